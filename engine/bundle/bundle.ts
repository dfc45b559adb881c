/**
 * SA bundles (RFC 4301 §4.5): AH and ESP applied to one packet, by transport adjacency (both in
 * transport mode, one IP header) or by iterated tunneling (a tunnel-mode SA, then more SAs on
 * its outer header). Each SA is processed by its own data path; this module only orders them.
 */

import { AhSa } from '../ah/ahSa.js';
import { ahDecapsulate, type AhLookup } from '../ah/ahDecapsulate.js';
import { ahEncapsulate } from '../ah/ahEncapsulate.js';
import type { DropCounters, DropReason } from '../dropReasons.js';
import { decapsulate, type SaLookup } from '../esp/decapsulate.js';
import { encapsulate } from '../esp/encapsulate.js';
import { EspSa } from '../esp/espSa.js';
import type { IvSource } from '../esp/ivSource.js';
import { parseIp } from '../packet/ipPacket.js';
import { IPPROTO } from '../packet/ipProtocol.js';

/** An SA a bundle may hold: ESP (protocol 50) or AH (51). */
export type BundleSa = EspSa | AhSa;

/** Finds the inbound SA for (SPI, destination, protocol), of either kind (RFC 4301 §4.4.2). */
export type BundleLookup = (spi: number, dst: Uint8Array, protocol: number) => BundleSa | undefined;

/** One SA applied outbound, with the sequence number it spent. */
export interface AppliedSa {
  sa: BundleSa;
  seqHi: number;
  seqLo: number;
}

export type ApplyBundleResult =
  | { ok: true; packet: Uint8Array; applied: AppliedSa[] }
  | { ok: false; reason: DropReason; sa: BundleSa; applied: AppliedSa[] };

export type OpenBundleResult =
  | { ok: true; packet: Uint8Array; sas: BundleSa[] }
  | { ok: false; reason: DropReason; sa?: BundleSa; sas: BundleSa[] };

/**
 * More nested SAs than this on one packet is refused as `malformed`: RFC 4301 §4.5 sets no
 * limit, but no policy here nests more than a few, and the limit bounds the work per packet.
 *
 * @example
 * if (policy.bundle.length > MAX_BUNDLE_DEPTH) throw new RangeError('bundle: too deep');
 */
export const MAX_BUNDLE_DEPTH = 8;

/**
 * Applies outbound SAs to `inner`, innermost first, stopping at the first drop: `[esp, ah]` in
 * transport mode gives IP | AH | ESP | payload (RFC 4301 §4.5 transport adjacency: ESP, then
 * AH over it), `[ah, esp]` gives IP | ESP | AH | payload; a tunnel-mode SA first and a transport
 * one after it gives iterated tunneling. `iv` feeds the ESP SAs. Sequence numbers spent before
 * a drop stay spent (a gap, which receivers tolerate). Returns a new buffer; `inner` is read only.
 * Throws a `RangeError` naming `sas` when it is empty.
 *
 * @example
 * const r = applyBundle(packet, [espOut, ahOut], standardIvSource(fill));
 * if (r.ok) wire.send(r.packet);
 */
export function applyBundle(inner: Uint8Array, sas: readonly BundleSa[], iv: IvSource): ApplyBundleResult {
  if (!Array.isArray(sas) || sas.length === 0) throw new RangeError('sas: must list at least one SA');
  const applied: AppliedSa[] = [];
  let packet = inner;
  for (const sa of sas) {
    const r = sa instanceof AhSa ? ahEncapsulate(packet, sa) : encapsulate(packet, sa, iv);
    if (!r.ok) return { ok: false, reason: r.reason, sa, applied };
    applied.push({ sa, seqHi: r.seqHi, seqLo: r.seqLo });
    packet = r.packet;
  }
  return { ok: true, packet, applied };
}

/**
 * Inbound processing of a datagram protected by one SA or a bundle: AH and ESP headers are
 * processed as they appear (RFC 4301 §5.2), outermost first, until the next header is neither
 * 50 nor 51. After a tunnel-mode SA the inner packet is processed further only if it is AH/ESP
 * for an SA `lookup` knows (iterated tunneling to this host); otherwise it is someone else's
 * traffic carried through the tunnel and is returned as it is. `sas` lists the SAs in the order
 * they were removed (the reverse of `applyBundle`'s), so the caller can check them against the
 * SPD's bundle. Drops are counted in `drops` once, with the SA id when known. Buffer ownership:
 * `datagram` is consumed; the returned packet is a view into it.
 *
 * @example
 * const r = openBundle(datagram, (spi, dst, proto) => sad.get(proto, spi), drops);
 * if (r.ok && matchesPolicy(r.sas)) tun.write(r.packet);
 */
export function openBundle(datagram: Uint8Array, lookup: BundleLookup, drops?: DropCounters): OpenBundleResult {
  const espLookup: SaLookup = (spi, dst, protocol) => {
    const sa = lookup(spi, dst, protocol);
    return sa instanceof EspSa ? sa : undefined;
  };
  const ahLookup: AhLookup = (spi, dst, protocol) => {
    const sa = lookup(spi, dst, protocol);
    return sa instanceof AhSa ? sa : undefined;
  };
  const sas: BundleSa[] = [];
  let packet = datagram;
  for (;;) {
    const next = nextHeaderToOpen(packet, sas, lookup);
    if (next === 'done') return { ok: true, packet, sas };
    if (typeof next !== 'string') {
      drops?.count(next.reason);
      return { ok: false, reason: next.reason, sas };
    }
    if (sas.length === MAX_BUNDLE_DEPTH) {
      drops?.count('malformed', sas[sas.length - 1]!.id);
      return { ok: false, reason: 'malformed', sas };
    }
    const r = next === 'ah' ? ahDecapsulate(packet, ahLookup, drops) : decapsulate(packet, espLookup, drops);
    if (!r.ok) return r.sa ? { ok: false, reason: r.reason, sa: r.sa, sas } : { ok: false, reason: r.reason, sas };
    sas.push(r.sa);
    packet = r.packet;
  }
}

/** What to do with `packet` given the SAs already removed: open AH, open ESP, stop, or drop. */
function nextHeaderToOpen(packet: Uint8Array, sas: readonly BundleSa[], lookup: BundleLookup): 'ah' | 'esp' | 'done' | { reason: DropReason } {
  const ip = parseIp(packet);
  if (sas.length === 0) {
    // The datagram itself must be IPsec: AH, ESP, or (RFC 3948) ESP in UDP, which decapsulate sorts out.
    if (!ip.ok) return { reason: ip.reason };
    if (ip.protocol === IPPROTO.AH) return 'ah';
    if (ip.protocol === IPPROTO.ESP || ip.protocol === IPPROTO.UDP) return 'esp';
    return { reason: 'notIpsec' };
  }
  // Past the first SA, anything that is not (whole) AH or ESP is the final packet.
  if (!ip.ok || ip.fragment || (ip.protocol !== IPPROTO.AH && ip.protocol !== IPPROTO.ESP)) return 'done';
  const kind = ip.protocol === IPPROTO.AH ? 'ah' : 'esp';
  if (sas[sas.length - 1]!.config.mode === 'transport') return kind;
  // After a tunnel: only iterated tunneling to this host continues (RFC 4301 §4.5).
  const spiAt = kind === 'ah' ? 4 : 0;
  const p = ip.payload;
  if (p.length < spiAt + 4) return 'done';
  const spi = ((p[spiAt]! << 24) | (p[spiAt + 1]! << 16) | (p[spiAt + 2]! << 8) | p[spiAt + 3]!) >>> 0;
  return lookup(spi, ip.dst, ip.protocol) === undefined ? 'done' : kind;
}
