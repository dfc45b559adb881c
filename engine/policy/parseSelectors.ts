/**
 * `<traffic-selector>`, `<tunnel>` and the lifetime containers: the value-level rules of
 * RFC 4301 §4.4.1.1 (one address family per selector set, ranges not reversed, ports only for
 * protocols that have them) with messages that say which rule broke.
 */
import type { IcmpTypeCode } from '../spd/types.js';
import { compareAddresses, formatIpAddress, parseIpAddress, parsePrefix } from './ipText.js';
import type { AddressDoc, LifetimeDoc, TrafficSelectorDoc, TunnelDoc } from './model.js';
import { Children, clip, emptyLeaf, leafText, readUint, type ParseContext } from './parseContext.js';
import type { XmlElement } from './xmlTree.js';

/** IANA protocol numbers a file may name instead of writing the number. */
export const PROTOCOL_NAMES: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  ipip: 4,
  tcp: 6,
  udp: 17,
  ipv6: 41,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  dccp: 33,
  sctp: 132,
  mh: 135,
  udplite: 136,
};
const NAME_OF_PROTOCOL = new Map(Object.entries(PROTOCOL_NAMES).map(([k, v]) => [v, k]));

/** The name a file writes for a protocol number, or the number. */
export function protocolText(value: number): string {
  return NAME_OF_PROTOCOL.get(value) ?? String(value);
}

/** Protocols whose packets carry ports (RFC 4301 §4.4.1.1). */
const PORTED = new Set([6, 17, 33, 132, 136]);
const ICMP = new Set([1, 58]);
const MH = 135;

const familyName = (a: Uint8Array): string => (a.length === 4 ? 'IPv4' : 'IPv6');

interface AddressRead {
  doc: AddressDoc;
  /** The family's bytes length (4 or 16) when the selector names addresses. */
  family?: number;
  /** The one address when the selector is a single host (bare address or full-length prefix). */
  host?: Uint8Array;
}

function readAddressSide(ctx: ParseContext, kids: Children, side: 'local' | 'remote', parent: XmlElement): AddressRead | undefined {
  const prefixEl = kids.one(`${side}-prefix`);
  const rangeEl = kids.one(`${side}-range`);
  if (prefixEl && rangeEl) {
    ctx.errorOn(rangeEl, `<traffic-selector> holds either <${side}-prefix> or <${side}-range>, not both`);
    return undefined;
  }
  if (prefixEl) {
    const text = leafText(ctx, prefixEl);
    if (text === undefined) return undefined;
    if (text === 'any' || text === 'opaque') return { doc: { kind: text } };
    if (!text.includes('/')) {
      const a = parseIpAddress(text);
      if (!a.ok) return void ctx.errorInValue(prefixEl, a.rule);
      return { doc: { kind: 'single', address: formatIpAddress(a.value) }, family: a.value.length, host: a.value };
    }
    const p = parsePrefix(text);
    if (!p.ok) return void ctx.errorInValue(prefixEl, p.rule);
    const { address, length } = p.value;
    return {
      doc: { kind: 'prefix', address: formatIpAddress(address), length },
      family: address.length,
      ...(length === address.length * 8 ? { host: address } : {}),
    };
  }
  if (rangeEl) {
    const r = new Children(ctx, rangeEl, { start: 'one', end: 'one' });
    const startEl = r.need('start');
    const endEl = r.need('end');
    const from = readAddress(ctx, startEl);
    const to = readAddress(ctx, endEl);
    if (!from || !to || !startEl) return undefined;
    if (from.length !== to.length) {
      return void ctx.errorOn(rangeEl, `address range ${formatIpAddress(from)}-${formatIpAddress(to)} mixes IPv4 and IPv6`);
    }
    if (compareAddresses(from, to) > 0) {
      return void ctx.errorInValue(startEl, `address range ${formatIpAddress(from)}-${formatIpAddress(to)} is reversed`);
    }
    return {
      doc: { kind: 'range', from: formatIpAddress(from), to: formatIpAddress(to) },
      family: from.length,
      ...(compareAddresses(from, to) === 0 ? { host: from } : {}),
    };
  }
  ctx.errorOn(parent, `<traffic-selector> needs a <${side}-prefix> or <${side}-range>`);
  return undefined;
}

/** One IP address (no prefix). */
export function readAddress(ctx: ParseContext, el: XmlElement | undefined): Uint8Array | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  const a = parseIpAddress(text);
  if (!a.ok) return void ctx.errorInValue(el, a.rule);
  return a.value;
}

function readProtocol(ctx: ParseContext, el: XmlElement | undefined): TrafficSelectorDoc['innerProtocol'] {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if (text === 'any' || text === 'opaque') return { kind: text };
  const named = Object.hasOwn(PROTOCOL_NAMES, text) ? PROTOCOL_NAMES[text] : undefined;
  if (named !== undefined) return { kind: 'number', value: named };
  if (/^[0-9]+$/.test(text) && Number(text) <= 255) return { kind: 'number', value: Number(text) };
  ctx.errorInValue(
    el,
    `inner-protocol '${clip(text)}' is not any, opaque, a number 0 to 255 or one of ${Object.keys(PROTOCOL_NAMES).join(', ')}`,
  );
  return undefined;
}

/** `<start>`/`<end>` numbers or `<opaque/>`: ports and MH types. */
function readNumberRange(
  ctx: ParseContext,
  el: XmlElement | undefined,
  max: number,
  what: string,
): { kind: 'range'; from: number; to: number } | { kind: 'opaque' } | undefined {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { start: 'one', end: 'one', opaque: 'one' });
  const opaque = kids.one('opaque');
  if (opaque) {
    emptyLeaf(ctx, opaque);
    if (kids.has('start') || kids.has('end')) return void ctx.errorOn(el, `<${el.name}> holds either <opaque/> or <start> and <end>`);
    return { kind: 'opaque' };
  }
  const startEl = kids.need('start');
  const endEl = kids.need('end');
  const from = readUint(ctx, startEl, 0, max, `${what} start`);
  const to = readUint(ctx, endEl, 0, max, `${what} end`);
  if (from === undefined || to === undefined || !startEl) return undefined;
  if (from > to) return void ctx.errorInValue(startEl, `${what} range ${from}-${to} is reversed`);
  return { kind: 'range', from, to };
}

function readTypeCode(ctx: ParseContext, el: XmlElement | undefined, defaultCode: number): IcmpTypeCode | undefined {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { type: 'one', code: 'one' });
  const type = readUint(ctx, kids.need('type'), 0, 255, 'ICMP type');
  const codeEl = kids.one('code');
  const code = codeEl ? readUint(ctx, codeEl, 0, 255, 'ICMP code') : defaultCode;
  if (type === undefined || code === undefined) return undefined;
  return { type, code };
}

function readIcmp(ctx: ParseContext, el: XmlElement | undefined): TrafficSelectorDoc['icmp'] {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { start: 'one', end: 'one', opaque: 'one' });
  const opaque = kids.one('opaque');
  if (opaque) {
    emptyLeaf(ctx, opaque);
    if (kids.has('start') || kids.has('end')) return void ctx.errorOn(el, '<icmp> holds either <opaque/> or <start> and <end>');
    return { kind: 'opaque' };
  }
  const startEl = kids.need('start');
  // Code defaults to the whole span: start code 0, end code 255 (one type, any code).
  const from = readTypeCode(ctx, startEl, 0);
  const to = readTypeCode(ctx, kids.need('end'), 255);
  if (!from || !to || !startEl) return undefined;
  if (from.type * 256 + from.code > to.type * 256 + to.code) {
    return void ctx.errorOn(startEl, `ICMP range ${from.type}/${from.code}-${to.type}/${to.code} (type/code) is reversed`);
  }
  return { kind: 'range', from, to };
}

export interface SelectorRead {
  doc: TrafficSelectorDoc;
  /** Host addresses when both sides are single hosts (a transport SA's endpoints). */
  localHost?: Uint8Array;
  remoteHost?: Uint8Array;
}

/**
 * `<traffic-selector>` (RFC 9061 `selector-grouping`).
 *
 * @example
 * readTrafficSelector(ctx, el)?.doc.local // { kind: 'prefix', address: '10.1.0.0', length: 16 }
 */
export function readTrafficSelector(ctx: ParseContext, el: XmlElement): SelectorRead | undefined {
  const kids = new Children(ctx, el, {
    'local-prefix': 'one',
    'local-range': 'one',
    'remote-prefix': 'one',
    'remote-range': 'one',
    'inner-protocol': 'one',
    'local-ports': 'one',
    'remote-ports': 'one',
    icmp: 'one',
    'mh-type': 'one',
  });
  const local = readAddressSide(ctx, kids, 'local', el);
  const remote = readAddressSide(ctx, kids, 'remote', el);
  const protoEl = kids.one('inner-protocol');
  const innerProtocol = readProtocol(ctx, protoEl);
  const localPorts = readNumberRange(ctx, kids.one('local-ports'), 0xffff, 'port');
  const remotePorts = readNumberRange(ctx, kids.one('remote-ports'), 0xffff, 'port');
  const icmp = readIcmp(ctx, kids.one('icmp'));
  const mhType = readNumberRange(ctx, kids.one('mh-type'), 255, 'MH type');
  if (!local || !remote) return undefined;
  if (local.family !== undefined && remote.family !== undefined && local.family !== remote.family) {
    ctx.errorInValue(
      kids.one('remote-prefix') ?? kids.one('remote-range')!,
      `local addresses are ${local.family === 4 ? 'IPv4' : 'IPv6'} but remote addresses are ${remote.family === 4 ? 'IPv4' : 'IPv6'}; a traffic selector uses one address family`,
    );
    return undefined;
  }
  const proto = innerProtocol?.kind === 'number' ? innerProtocol.value : undefined;
  const protoName = proto === undefined ? '' : protocolText(proto);
  for (const [name, ports] of [['local-ports', localPorts], ['remote-ports', remotePorts]] as const) {
    // OPAQUE ports are what a protocol without ports has (RFC 4301 §4.4.1.1); a range needs ports.
    if (ports?.kind === 'range' && proto !== undefined && !PORTED.has(proto)) {
      ctx.errorOn(kids.one(name)!, `<${name}> need a protocol with ports (tcp, udp, sctp, dccp, udplite); inner-protocol is ${protoName}`);
      return undefined;
    }
  }
  // With inner-protocol any, the ICMP and MH selectors match only packets of their protocol.
  const anyProtocol = innerProtocol === undefined || innerProtocol.kind === 'any';
  const notProto = proto === undefined ? 'opaque' : protoName;
  if (icmp && !anyProtocol && !(proto !== undefined && ICMP.has(proto))) {
    ctx.errorOn(kids.one('icmp')!, `an <icmp> selector needs inner-protocol icmp, ipv6-icmp or any, not ${notProto}`);
    return undefined;
  }
  if (mhType && !anyProtocol && proto !== MH) {
    ctx.errorOn(kids.one('mh-type')!, `an <mh-type> selector needs inner-protocol mh (135) or any, not ${notProto}`);
    return undefined;
  }
  if ((localPorts === undefined && kids.has('local-ports')) || (remotePorts === undefined && kids.has('remote-ports'))) return undefined;
  if ((icmp === undefined && kids.has('icmp')) || (mhType === undefined && kids.has('mh-type')) || (innerProtocol === undefined && protoEl)) return undefined;
  const doc: TrafficSelectorDoc = { local: local.doc, remote: remote.doc };
  if (innerProtocol) doc.innerProtocol = innerProtocol;
  if (localPorts) doc.localPorts = localPorts;
  if (remotePorts) doc.remotePorts = remotePorts;
  if (icmp) doc.icmp = icmp;
  if (mhType) doc.mhType = mhType;
  return {
    doc,
    ...(local.host ? { localHost: local.host } : {}),
    ...(remote.host ? { remoteHost: remote.host } : {}),
  };
}

/**
 * `<tunnel>`: `<local>` and `<remote>` of one family.
 *
 * @example
 * readTunnel(ctx, el) // { doc: { local: '192.0.2.1', remote: '198.51.100.2' }, local: Uint8Array, remote: Uint8Array }
 */
export function readTunnel(ctx: ParseContext, el: XmlElement): { doc: TunnelDoc; local: Uint8Array; remote: Uint8Array } | undefined {
  const kids = new Children(ctx, el, { local: 'one', remote: 'one' });
  const local = readAddress(ctx, kids.need('local'));
  const remote = readAddress(ctx, kids.need('remote'));
  if (!local || !remote) return undefined;
  if (local.length !== remote.length) {
    return void ctx.errorOn(el, `tunnel local ${formatIpAddress(local)} is ${familyName(local)} but remote ${formatIpAddress(remote)} is ${familyName(remote)}`);
  }
  return { doc: { local: formatIpAddress(local), remote: formatIpAddress(remote) }, local, remote };
}

/** The largest lifetime time in seconds: RFC 9061's uint32. */
const MAX_LIFETIME_SECONDS = 0xffffffff;

function readSeconds(ctx: ParseContext, el: XmlElement | undefined): number | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  const m = /^([0-9]+)(?:\.([0-9]{1,3}))?$/.exec(text);
  if (!m) {
    return void ctx.errorInValue(el, `lifetime time '${clip(text)}' is not a number of seconds (up to three decimals)`);
  }
  const ms = Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0'));
  if (ms === 0) return void ctx.errorInValue(el, 'lifetime time must be greater than 0; leave <time> out for no time limit');
  if (Number(m[1]) > MAX_LIFETIME_SECONDS) {
    return void ctx.errorInValue(el, `lifetime time ${text} s exceeds ${MAX_LIFETIME_SECONDS} s`);
  }
  return ms;
}

/** `<sa-lifetime-soft>`/`<sa-lifetime-hard>`: any of `<time>` (seconds), `<bytes>`, `<packets>`. */
export function readLifetime(ctx: ParseContext, el: XmlElement | undefined): LifetimeDoc | undefined {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { time: 'one', bytes: 'one', packets: 'one' });
  const doc: LifetimeDoc = {};
  const timeMs = readSeconds(ctx, kids.one('time'));
  const bytes = readUint(ctx, kids.one('bytes'), 1, Number.MAX_SAFE_INTEGER, 'lifetime bytes');
  const packets = readUint(ctx, kids.one('packets'), 1, Number.MAX_SAFE_INTEGER, 'lifetime packets');
  if (timeMs !== undefined) doc.timeMs = timeMs;
  if (bytes !== undefined) doc.bytes = bytes;
  if (packets !== undefined) doc.packets = packets;
  return doc;
}

/** RFC 4301 §4.4.2.1: a soft limit must come before its hard limit. */
export function checkSoftBeforeHard(
  ctx: ParseContext,
  soft: LifetimeDoc | undefined,
  hard: LifetimeDoc | undefined,
  softEl: XmlElement | undefined,
): void {
  if (!soft || !hard || !softEl) return;
  const show = (k: keyof LifetimeDoc, v: number): string => (k === 'timeMs' ? `time ${v / 1000} s` : `${k} ${v}`);
  for (const k of ['timeMs', 'bytes', 'packets'] as const) {
    const s = soft[k];
    const h = hard[k];
    if (s !== undefined && h !== undefined && s > h) {
      ctx.errorOn(softEl, `soft lifetime ${show(k, s)} is past the hard lifetime ${show(k, h)}`);
    }
  }
}
