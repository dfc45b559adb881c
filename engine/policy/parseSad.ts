/**
 * `<sad-entry>` (RFC 9061 `ietf-i2nsf-ikeless` SAD): a static SA for manual keying, with its
 * SPI (RFC 4303 §2.1: 256 and up), suite, keys of exactly the suite's length (or references to
 * them), mode, endpoints and lifetimes.
 */
import type { KeyDoc, SadEntryDoc } from './model.js';
import { Children, clip, hexSpi, leafText, readBool, readEnum, readName, readUint, type Located, type ParseContext } from './parseContext.js';
import { checkSoftBeforeHard, readLifetime, readTrafficSelector, readTunnel } from './parseSelectors.js';
import { readReplayWindow, readSuite } from './parseSpd.js';
import { ahIntegByName, ahKeyLength, espSuiteByName } from './suiteNames.js';
import type { XmlElement } from './xmlTree.js';

/** A sad-entry with what the cross-entry checks need. */
export interface LocatedSadEntry extends Located<SadEntryDoc> {
  readonly spiEl: XmlElement;
  readonly reqidEl: XmlElement | undefined;
  /** Inbound: where packets arrive; outbound: the peer. Keys the SPI uniqueness check. */
  readonly dst: Uint8Array;
}

/** `file:<path>` or `env:<NAME>`. */
export const KEY_REF_PATTERN = /^(file:\S.*|env:[A-Za-z_][A-Za-z0-9_]*)$/;

/** Reads `<key-ref>`: a reference to a secret kept outside the file. */
export function readKeyRef(ctx: ParseContext, el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if (KEY_REF_PATTERN.test(text)) return text;
  ctx.errorInValue(el, `key-ref '${clip(text)}' must be file:<path> or env:<NAME>`);
  return undefined;
}

/** An SPI: decimal or 0x hex, 256..2^32-1. */
export function readSpi(ctx: ParseContext, el: XmlElement | undefined, what = 'SPI'): number | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    return void ctx.errorInValue(el, `${what} '${clip(text)}' is not a number (decimal, or hex as 0x...)`);
  }
  const value = Number(text);
  if (value > 0xffffffff) return void ctx.errorInValue(el, `${what} ${text} does not fit in 32 bits`);
  if (value < 256) {
    return void ctx.errorInValue(el, `${what} ${hexSpi(value)} is reserved: SPIs 0 to 255 are (RFC 4303 §2.1); use 256 (0x100) or above`);
  }
  return value;
}

function readKey(ctx: ParseContext, el: XmlElement, length: number, what: string, why = ''): KeyDoc | undefined {
  const kids = new Children(ctx, el, { key: 'one', 'key-ref': 'one' });
  const keyEl = kids.one('key');
  const refEl = kids.one('key-ref');
  if (keyEl && refEl) return void ctx.errorOn(refEl, `<${el.name}> holds either <key> or <key-ref>, not both`);
  if (refEl) {
    const ref = readKeyRef(ctx, refEl);
    return ref === undefined ? undefined : { ref };
  }
  if (!keyEl) return void ctx.errorOn(el, `<${el.name}> needs a <key> (hex) or a <key-ref> (file:<path> or env:<NAME>)`);
  const text = leafText(ctx, keyEl);
  if (text === undefined) return undefined;
  const hex = text.replace(/^0[xX]/, '');
  if (!/^[0-9a-fA-F]*$/.test(hex)) return void ctx.errorInValue(keyEl, `${what} is not hex: '${hex.replace(/[0-9a-fA-F]/g, '').slice(0, 1)}' is not a hex digit`);
  if (hex.length % 2 !== 0) return void ctx.errorInValue(keyEl, `${what} has an odd number of hex digits (${hex.length})`);
  if (hex.length / 2 !== length) {
    return void ctx.errorInValue(keyEl, `${what} must be ${length} bytes${why}, ${length * 2} hex digits; got ${hex.length / 2} bytes`);
  }
  return { hex: hex.toLowerCase() };
}

/** `<esp-sa>`/`<ah-sa>`: the suite and its keys, each of the length the suite needs. */
function readSaKeys(
  ctx: ParseContext,
  el: XmlElement,
  protocol: 'esp' | 'ah',
): Pick<SadEntryDoc, 'suite' | 'encryptionKey' | 'integrityKey'> | undefined {
  const kids = new Children(ctx, el, protocol === 'esp' ? { suite: 'one', encryption: 'one', integrity: 'one' } : { suite: 'one', integrity: 'one' });
  const suite = readSuite(ctx, kids.need('suite'), protocol);
  if (suite === undefined) return undefined;
  let encLength = 0;
  let integLength: number;
  let encWhy = '';
  if (protocol === 'esp') {
    const info = espSuiteByName(suite)!;
    encLength = info.encKeyLength;
    integLength = info.integKeyLength;
    encWhy = info.saltLength ? ` (a ${info.keyBits}-bit key and a ${info.saltLength}-byte salt)` : ` (a ${info.keyBits}-bit key)`;
  } else {
    integLength = ahKeyLength(ahIntegByName(suite)!);
  }
  const encEl = kids.one('encryption');
  const integEl = kids.one('integrity');
  let ok = true;
  const out: Pick<SadEntryDoc, 'suite' | 'encryptionKey' | 'integrityKey'> = { suite };
  if (protocol === 'esp') {
    if (encLength === 0 && encEl) {
      ctx.errorOn(encEl, `suite ${suite} encrypts nothing: it takes no encryption key`);
      ok = false;
    } else if (encLength > 0 && !encEl) {
      ctx.errorOn(el, `<esp-sa> needs an <encryption> key for ${suite}`);
      ok = false;
    } else if (encEl) {
      const key = readKey(ctx, encEl, encLength, `encryption key for ${suite}`, encWhy);
      if (key) out.encryptionKey = key;
      else ok = false;
    }
  }
  if (integLength === 0 && integEl) {
    ctx.errorOn(integEl, `${suite} is a combined mode: it takes no integrity key`);
    ok = false;
  } else if (integLength > 0 && !integEl) {
    ctx.errorOn(el, `<${el.name}> needs an <integrity> key for ${suite}`);
    ok = false;
  } else if (integEl) {
    const key = readKey(ctx, integEl, integLength, `integrity key for ${suite}`);
    if (key) out.integrityKey = key;
    else ok = false;
  }
  return ok ? out : undefined;
}

/** `<sad-entry>`. */
export function readSadEntry(ctx: ParseContext, el: XmlElement): LocatedSadEntry | undefined {
  const kids = new Children(ctx, el, { name: 'one', reqid: 'one', 'ipsec-sa-config': 'one', 'ipsec-sa-state': 'one' });
  const name = readName(ctx, kids.need('name'));
  const reqidEl = kids.one('reqid');
  const reqid = readUint(ctx, reqidEl, 1, 0xffffffff, 'reqid');
  const cfgEl = kids.need('ipsec-sa-config');
  if (!cfgEl || name === undefined || (reqidEl && reqid === undefined)) return undefined;
  const c = new Children(ctx, cfgEl, {
    spi: 'one',
    direction: 'one',
    'ext-seq-num': 'one',
    'anti-replay-window-size': 'one',
    'traffic-selector': 'one',
    'protocol-parameters': 'one',
    mode: 'one',
    'esp-sa': 'one',
    'ah-sa': 'one',
    'sa-lifetime-hard': 'one',
    'sa-lifetime-soft': 'one',
    tunnel: 'one',
    'encapsulation-type': 'one',
  });
  const spiEl = c.need('spi');
  const spi = readSpi(ctx, spiEl);
  const direction = readEnum(ctx, c.need('direction'), ['inbound', 'outbound'] as const);
  const esn = readBool(ctx, c.one('ext-seq-num'));
  const windowEl = c.one('anti-replay-window-size');
  const window = readReplayWindow(ctx, windowEl);
  const tsEl = c.one('traffic-selector');
  const ts = tsEl ? readTrafficSelector(ctx, tsEl) : undefined;
  const protocolEl = c.one('protocol-parameters');
  const protocol = readEnum(ctx, protocolEl, ['esp', 'ah'] as const);
  const modeEl = c.one('mode');
  const mode = readEnum(ctx, modeEl, ['tunnel', 'transport'] as const);
  const softEl = c.one('sa-lifetime-soft');
  const soft = readLifetime(ctx, softEl);
  const hard = readLifetime(ctx, c.one('sa-lifetime-hard'));
  checkSoftBeforeHard(ctx, soft, hard, softEl);
  const tunnelEl = c.one('tunnel');
  const tunnel = tunnelEl ? readTunnel(ctx, tunnelEl) : undefined;
  const natT = readEncapsulation(ctx, c.one('encapsulation-type'));
  const seq = readSaState(ctx, kids.one('ipsec-sa-state'), direction, esn ?? false);
  const proto = protocol ?? 'esp';
  const saEl = c.one(proto === 'esp' ? 'esp-sa' : 'ah-sa');
  const wrongEl = c.one(proto === 'esp' ? 'ah-sa' : 'esp-sa');
  if (wrongEl) ctx.errorOn(wrongEl, `<${wrongEl.name}> does not apply: protocol-parameters is ${proto}`);
  if (!saEl) ctx.errorOn(cfgEl, `<ipsec-sa-config> needs an <${proto}-sa> with the suite and keys`);
  const keys = saEl ? readSaKeys(ctx, saEl, proto) : undefined;

  let ok = spi !== undefined && direction !== undefined && keys !== undefined && !wrongEl;
  ok &&= !(windowEl && window === undefined) && !(tsEl && !ts) && !(protocolEl && !protocol) && !(modeEl && !mode);
  ok &&= !(tunnelEl && !tunnel) && !(c.has('encapsulation-type') && !natT) && !(kids.has('ipsec-sa-state') && seq === undefined);
  if (windowEl && direction === 'outbound') {
    ctx.errorOn(windowEl, 'anti-replay-window-size is for inbound SAs only; this sad-entry is outbound');
    ok = false;
  } else if (windowEl && window === 0 && esn) {
    ctx.errorInValue(windowEl, 'ext-seq-num needs an anti-replay window (RFC 4303 App. A2 infers the high bits from it); 0 turns it off');
    ok = false;
  }
  const effectiveMode = mode ?? 'transport';
  let dst: Uint8Array | undefined;
  if (effectiveMode === 'tunnel') {
    if (!tunnelEl) {
      ctx.errorOn(modeEl ?? cfgEl, 'tunnel mode needs a <tunnel> with <local> and <remote> endpoints');
      ok = false;
    }
    dst = direction === 'inbound' ? tunnel?.local : tunnel?.remote;
  } else {
    if (tunnelEl && (mode !== undefined || !modeEl)) {
      ctx.errorOn(tunnelEl, `<tunnel> is only for tunnel mode; mode is transport${mode === undefined ? ' (the default): add <mode>tunnel</mode>' : ''}`);
      ok = false;
    }
    if (ts && (!ts.localHost || !ts.remoteHost)) {
      ctx.errorOn(tsEl!, 'a transport-mode sad-entry needs single local and remote addresses in its <traffic-selector>: they are the SA\'s endpoints');
      ok = false;
    } else if (!tsEl) {
      ctx.errorOn(cfgEl, 'a transport-mode sad-entry needs a <traffic-selector> with single local and remote addresses (the SA\'s endpoints)');
      ok = false;
    }
    dst = direction === 'inbound' ? ts?.localHost : ts?.remoteHost;
  }
  if (!ok || !spiEl || spi === undefined || direction === undefined || !keys || !dst) return undefined;
  const doc: SadEntryDoc = { name, spi, direction, ...keys };
  if (reqid !== undefined) doc.reqid = reqid;
  if (esn !== undefined) doc.extSeqNum = esn;
  if (window !== undefined) doc.antiReplayWindowSize = window;
  if (ts) doc.trafficSelector = ts.doc;
  if (protocol) doc.protocolParameters = protocol;
  if (mode) doc.mode = mode;
  if (soft) doc.saLifetimeSoft = soft;
  if (hard) doc.saLifetimeHard = hard;
  if (tunnel) doc.tunnel = tunnel.doc;
  if (natT) doc.natT = natT;
  if (seq !== undefined) doc.seqNumberCounter = seq;
  return { doc, el, spiEl, reqidEl, dst };
}

/** `<encapsulation-type>` (RFC 9061): ESP in UDP (RFC 3948) with its ports. */
function readEncapsulation(ctx: ParseContext, el: XmlElement | undefined): SadEntryDoc['natT'] {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { espencap: 'one', sport: 'one', dport: 'one' });
  const encap = readEnum(ctx, kids.need('espencap'), ['espinudp'] as const);
  const srcPort = readUint(ctx, kids.need('sport'), 1, 0xffff, 'sport');
  const dstPort = readUint(ctx, kids.need('dport'), 1, 0xffff, 'dport');
  if (encap === undefined || srcPort === undefined || dstPort === undefined) return undefined;
  return { srcPort, dstPort };
}

/** `<ipsec-sa-state>`: where an outbound SA's sequence counter resumes (RFC 4303 §3.3.3). */
function readSaState(ctx: ParseContext, el: XmlElement | undefined, direction: string | undefined, esn: boolean): number | undefined {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { 'seq-number-counter': 'one' });
  const seqEl = kids.need('seq-number-counter');
  const seq = readUint(ctx, seqEl, 0, Number.MAX_SAFE_INTEGER, 'seq-number-counter');
  if (seq === undefined || !seqEl) return undefined;
  if (direction === 'inbound') {
    return void ctx.errorOn(el, 'seq-number-counter is for outbound SAs only; this sad-entry is inbound');
  }
  if (!esn && seq > 0xffffffff) {
    return void ctx.errorInValue(seqEl, `seq-number-counter ${seq} needs ext-seq-num true: without ESN it must be at most 4294967295`);
  }
  return seq;
}
