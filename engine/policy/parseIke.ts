/**
 * `<ipsec-ike>` (RFC 9061 `ietf-i2nsf-ike`): the PAD (`<pad-entry>`: an identity and how it
 * authenticates) and the connections (`<conn-entry>`: one IKEv2 peer with its proposals, its
 * addresses, the PAD entries of each side and the policies IKE negotiates SAs for). Pre-shared
 * keys appear by reference only (`<key-ref>file:...` or `env:...`), never in the file.
 */
import { formatIpAddress, parseIpAddress } from './ipText.js';
import type { ConnEntryDoc, ConnSpdEntryDoc, IdentityDoc, PadEntryDoc } from './model.js';
import { Children, clip, leafText, readEnum, readName, readUint, type Located, type ParseContext } from './parseContext.js';
import { readKeyRef, readSpi } from './parseSad.js';
import { readSpdEntry, type LocatedSpdEntry } from './parseSpd.js';
import type { XmlElement } from './xmlTree.js';

export interface LocatedConnEntry extends Located<ConnEntryDoc> {
  readonly spiRangeEl: XmlElement | undefined;
  readonly localPadEl: XmlElement | undefined;
  readonly remotePadEl: XmlElement | undefined;
  readonly spd: LocatedSpdEntry[];
}

const IDENTITIES = ['ipv4-address', 'ipv6-address', 'fqdn-string', 'rfc822-address-string', 'id-key'] as const;
const FQDN = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function readIdentity(ctx: ParseContext, kids: Children, el: XmlElement): IdentityDoc | undefined {
  const present = IDENTITIES.filter((k) => kids.has(k));
  if (present.length === 0) {
    return void ctx.errorOn(el, `<pad-entry> needs an identity: one of ${IDENTITIES.map((k) => `<${k}>`).join(', ')}`);
  }
  if (present.length > 1) {
    return void ctx.errorOn(kids.one(present[1]!)!, `<pad-entry> has two identities (<${present[0]}> and <${present[1]}>); keep one`);
  }
  const kind = present[0]!;
  const idEl = kids.one(kind)!;
  const text = leafText(ctx, idEl);
  if (text === undefined) return undefined;
  if (kind === 'ipv4-address' || kind === 'ipv6-address') {
    const a = parseIpAddress(text);
    if (!a.ok || (a.value.length === 4) !== (kind === 'ipv4-address')) {
      return void ctx.errorInValue(idEl, a.ok ? `'${text}' is not an ${kind === 'ipv4-address' ? 'IPv4' : 'IPv6'} address` : a.rule);
    }
    return { kind, value: formatIpAddress(a.value) };
  }
  if (kind === 'fqdn-string' && !FQDN.test(text)) {
    return void ctx.errorInValue(idEl, `'${clip(text)}' is not a domain name (letters, digits and '-' in dot-separated labels)`);
  }
  if (kind === 'rfc822-address-string' && !/^[^@\s]+@[^@\s]+$/.test(text)) {
    return void ctx.errorInValue(idEl, `'${clip(text)}' is not an e-mail address (local@domain)`);
  }
  if (kind === 'id-key' && text.length > 255) {
    return void ctx.errorInValue(idEl, `id-key is ${text.length} characters; at most 255`);
  }
  return { kind, value: text };
}

/** `<pad-entry>`. */
export function readPadEntry(ctx: ParseContext, el: XmlElement): Located<PadEntryDoc> | undefined {
  const allowed = Object.fromEntries([['name', 'one'], ...IDENTITIES.map((k) => [k, 'one']), ['peer-authentication', 'one']]) as Record<string, 'one'>;
  const kids = new Children(ctx, el, allowed);
  const name = readName(ctx, kids.need('name'));
  const identity = readIdentity(ctx, kids, el);
  const authEl = kids.need('peer-authentication');
  if (!authEl) return undefined;
  const auth = new Children(ctx, authEl, { 'auth-method': 'one', 'pre-shared': 'one' });
  const methodEl = auth.need('auth-method');
  const method = readEnum(ctx, methodEl, ['pre-shared', 'eap', 'digital-signature', 'null'] as const);
  if (method !== undefined && method !== 'pre-shared') {
    ctx.errorInValue(methodEl!, `auth-method ${method} is not supported yet; use pre-shared`);
    return undefined;
  }
  const pskEl = auth.one('pre-shared');
  if (method === 'pre-shared' && !pskEl) {
    ctx.errorOn(authEl, 'auth-method pre-shared needs a <pre-shared> with a <key-ref>');
    return undefined;
  }
  let keyRef: string | undefined;
  if (pskEl) {
    const psk = new Children(ctx, pskEl, { 'key-ref': 'one', secret: 'one' });
    const secret = psk.one('secret');
    if (secret) {
      ctx.errorOn(
        secret,
        'a literal pre-shared secret is not allowed in a policy file; keep it in a file or the environment and write <key-ref>file:/path</key-ref> or <key-ref>env:NAME</key-ref>',
      );
      return undefined;
    }
    keyRef = readKeyRef(ctx, psk.need('key-ref'));
  }
  if (name === undefined || !identity || method === undefined || keyRef === undefined) return undefined;
  return { doc: { name, identity, authMethod: method, keyRef }, el };
}

const IKE_ENCR = new Set([
  'aes128', 'aes192', 'aes256',
  'aes128ctr', 'aes192ctr', 'aes256ctr',
]);
const IKE_AEAD = new Set(['aes128gcm16', 'aes192gcm16', 'aes256gcm16', 'chacha20poly1305']);
const IKE_INTEG = new Set(['sha1', 'sha256', 'sha384', 'sha512']);
const IKE_PRF = new Set(['prfsha1', 'prfsha256', 'prfsha384', 'prfsha512']);
const IKE_KE = new Set(['modp2048', 'modp3072', 'modp4096', 'modp6144', 'modp8192', 'ecp256', 'ecp384', 'ecp521', 'curve25519', 'x25519', 'curve448', 'x448']);

/**
 * Checks an IKE SA proposal in strongSwan's syntax, `encryption[-integrity][-prf]-group...`
 * (RFC 7296 §3.3: an IKE SA needs encryption, a PRF, integrity unless the cipher is a combined
 * mode, and a key exchange). Returns the rule it breaks, or undefined.
 *
 * @example
 * ikeProposalProblem('aes256gcm16-prfsha384-ecp384') // undefined
 */
export function ikeProposalProblem(proposal: string): string | undefined {
  const [encr, ...rest] = proposal.split('-');
  const where = `IKE proposal '${proposal}'`;
  if (encr === undefined || (!IKE_ENCR.has(encr) && !IKE_AEAD.has(encr))) {
    return `${where} must start with an encryption algorithm (e.g. aes256gcm16, aes256, chacha20poly1305), not '${encr ?? ''}'`;
  }
  const aead = IKE_AEAD.has(encr);
  let integ = 0;
  let prf = 0;
  let ke = 0;
  for (const t of rest) {
    if (IKE_INTEG.has(t)) integ++;
    else if (IKE_PRF.has(t)) prf++;
    else if (IKE_KE.has(t)) ke++;
    else return `${where}: unknown algorithm '${t}'`;
  }
  if (aead && integ > 0) return `${where}: ${encr} is a combined mode and takes no integrity algorithm`;
  if (!aead && integ === 0) return `${where} names no integrity algorithm (e.g. sha256)`;
  if (aead && prf === 0) return `${where} names no PRF (e.g. prfsha256); a combined-mode proposal needs one`;
  if (ke === 0) return `${where} names no key exchange group (e.g. ecp256, curve25519, modp2048)`;
  return undefined;
}

function readEndpoint(
  ctx: ParseContext,
  el: XmlElement | undefined,
  side: 'local' | 'remote',
): { address: string; bytes?: Uint8Array; padEntryName: string; padEl: XmlElement } | undefined {
  if (!el) return undefined;
  const kids = new Children(ctx, el, { [`${side}-address`]: 'one', [`${side}-pad-entry-name`]: 'one' });
  const addrEl = kids.need(`${side}-address`);
  const padEl = kids.need(`${side}-pad-entry-name`);
  const pad = readName(ctx, padEl);
  const text = addrEl ? leafText(ctx, addrEl) : undefined;
  if (text === undefined || pad === undefined || !padEl || !addrEl) return undefined;
  if (side === 'remote' && text === 'any') return { address: 'any', padEntryName: pad, padEl };
  const a = parseIpAddress(text);
  if (!a.ok) return void ctx.errorInValue(addrEl, a.rule);
  return { address: formatIpAddress(a.value), bytes: a.value, padEntryName: pad, padEl };
}

/** `<conn-entry>`. */
export function readConnEntry(ctx: ParseContext, el: XmlElement): LocatedConnEntry | undefined {
  const kids = new Children(ctx, el, {
    name: 'one',
    autostartup: 'one',
    version: 'one',
    'ike-proposal': 'many',
    'ike-sa-lifetime-soft': 'one',
    'ike-sa-lifetime-hard': 'one',
    local: 'one',
    remote: 'one',
    'spi-range': 'one',
    spd: 'one',
  });
  const name = readName(ctx, kids.need('name'));
  const autostartup = readEnum(ctx, kids.one('autostartup'), ['add', 'on-demand', 'start'] as const);
  const versionEl = kids.one('version');
  const versionText = versionEl ? leafText(ctx, versionEl) : undefined;
  let ok = !(kids.has('autostartup') && autostartup === undefined) && !(versionEl && versionText === undefined);
  if (versionText !== undefined && versionText !== 'ikev2') {
    ctx.errorInValue(versionEl!, `IKE version '${clip(versionText)}' is not supported; only ikev2`);
    ok = false;
  }
  const proposals: string[] = [];
  const proposalEls = kids.many('ike-proposal');
  if (proposalEls.length === 0) {
    ctx.errorOn(el, '<conn-entry> needs at least one <ike-proposal> (e.g. aes256gcm16-prfsha384-ecp384)');
    ok = false;
  }
  for (const p of proposalEls) {
    const text = leafText(ctx, p);
    const problem = text === undefined ? 'empty' : ikeProposalProblem(text);
    if (text !== undefined && problem !== undefined) ctx.errorInValue(p, problem);
    else if (text !== undefined && proposals.includes(text)) ctx.errorInValue(p, `IKE proposal '${text}' is listed twice`);
    if (text === undefined || problem !== undefined || proposals.includes(text)) ok = false;
    else proposals.push(text);
  }
  const times: Pick<ConnEntryDoc, 'rekeyTime' | 'reauthTime' | 'overTime'> = {};
  const softEl = kids.one('ike-sa-lifetime-soft');
  if (softEl) {
    const s = new Children(ctx, softEl, { 'rekey-time': 'one', 'reauth-time': 'one' });
    const rekey = readUint(ctx, s.one('rekey-time'), 1, 0xffffffff, 'rekey-time');
    const reauth = readUint(ctx, s.one('reauth-time'), 1, 0xffffffff, 'reauth-time');
    if (rekey !== undefined) times.rekeyTime = rekey;
    if (reauth !== undefined) times.reauthTime = reauth;
    ok &&= (rekey !== undefined || !s.has('rekey-time')) && (reauth !== undefined || !s.has('reauth-time'));
  }
  const hardEl = kids.one('ike-sa-lifetime-hard');
  if (hardEl) {
    const h = new Children(ctx, hardEl, { 'over-time': 'one' });
    const over = readUint(ctx, h.one('over-time'), 1, 0xffffffff, 'over-time');
    if (over !== undefined) times.overTime = over;
    ok &&= over !== undefined || !h.has('over-time');
  }
  const local = readEndpoint(ctx, kids.need('local'), 'local');
  const remote = readEndpoint(ctx, kids.need('remote'), 'remote');
  if (local?.bytes && remote?.bytes && local.bytes.length !== remote.bytes.length) {
    ctx.errorOn(kids.one('remote')!, `local-address ${local.address} is ${local.bytes.length === 4 ? 'IPv4' : 'IPv6'} but remote-address ${remote.address} is ${remote.bytes.length === 4 ? 'IPv4' : 'IPv6'}`);
    ok = false;
  }
  const rangeEl = kids.one('spi-range');
  let spiRange: ConnEntryDoc['spiRange'];
  if (rangeEl) {
    const r = new Children(ctx, rangeEl, { start: 'one', end: 'one' });
    const start = readSpi(ctx, r.need('start'), 'SPI range start');
    const end = readSpi(ctx, r.need('end'), 'SPI range end');
    if (start !== undefined && end !== undefined && start > end) {
      ctx.errorInValue(r.one('start')!, `SPI range 0x${start.toString(16)}-0x${end.toString(16)} is reversed`);
    } else if (start !== undefined && end !== undefined) spiRange = { start, end };
    ok &&= spiRange !== undefined;
  }
  const spd: LocatedSpdEntry[] = [];
  const spdEl = kids.one('spd');
  if (spdEl && name !== undefined) {
    for (const entryEl of new Children(ctx, spdEl, { 'spd-entry': 'many' }).many('spd-entry')) {
      const entry = readSpdEntry(ctx, entryEl, name);
      if (entry) spd.push(entry);
      else ok = false;
      if (entry && remote?.address === 'any') {
        const cfg = entry.doc.config.ipsecSaCfg;
        if (cfg?.mode === 'tunnel' && !cfg.tunnel) {
          ctx.errorOn(entryEl, "tunnel mode needs a <tunnel> here: the conn-entry's remote-address is any");
          ok = false;
        }
      }
    }
  }
  if (!ok || name === undefined || !local || !remote) return undefined;
  const doc: ConnEntryDoc = {
    name,
    ikeProposals: proposals,
    local: { address: local.address, padEntryName: local.padEntryName },
    remote: { address: remote.address, padEntryName: remote.padEntryName },
    spd: spd.map((s) => s.doc as ConnSpdEntryDoc),
    ...times,
  };
  if (autostartup) doc.autostartup = autostartup;
  if (versionText === 'ikev2') doc.version = 'ikev2';
  if (spiRange) doc.spiRange = spiRange;
  return { doc, el, spiRangeEl: rangeEl, localPadEl: local.padEl, remotePadEl: remote.padEl, spd };
}
