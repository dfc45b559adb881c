/** Test helpers for AH: SA pairs, inner packets, keys. Nothing here calls the code under test's outputs. */

import { fc } from '@fast-check/vitest';
import { createAhSa, type AhSa, type AhSaConfig } from '../../../engine/ah/ahSa.js';
import { INTEG_SPECS } from '../../../engine/crypto/suites.js';
import type { IntegId } from '../../../engine/crypto/transformIds.js';
import type { CryptoBackendName } from '../../../engine/crypto/types.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';

export const AH_INTEGS = Object.keys(INTEG_SPECS).map(Number) as Exclude<IntegId, 0>[];
export const BACKENDS = ['node', 'noble'] as const;

export const V4_A = Uint8Array.of(192, 0, 2, 1);
export const V4_B = Uint8Array.of(192, 0, 2, 2);
export const V4_GW_A = Uint8Array.of(198, 51, 100, 1);
export const V4_GW_B = Uint8Array.of(198, 51, 100, 2);
const v6 = (last: number, third = 0) => Uint8Array.from({ length: 16 }, (_, i) => [0x20, 0x01, 0x0d, 0xb8][i] ?? (i === 5 ? third : i === 15 ? last : 0));
export const V6_A = v6(1);
export const V6_B = v6(2);
export const V6_GW_A = v6(1, 0xff);
export const V6_GW_B = v6(2, 0xff);

/** A deterministic key of the right size for `integ`. */
export function keyFor(integ: Exclude<IntegId, 0>, seed: number): Uint8Array {
  return Uint8Array.from({ length: INTEG_SPECS[integ].keyLength }, (_, i) => (seed * 31 + i * 7 + 5) & 0xff);
}

/** An IPv4 or IPv6 packet carrying `upper` (the whole upper-layer part) as `protocol`, A → B. */
export function ipPacket(version: 4 | 6, upper: Uint8Array, protocol: number = IPPROTO.UDP, tos = 0): Uint8Array {
  if (version === 4) {
    const p = new Uint8Array(20 + upper.length);
    writeIpv4Header(p, 0, { tos, totalLength: p.length, protocol, src: V4_A, dst: V4_B, identification: 7, dontFragment: true });
    p.set(upper, 20);
    return p;
  }
  const p = new Uint8Array(40 + upper.length);
  writeIpv6Header(p, 0, { trafficClass: tos, flowLabel: 0x54321, payloadLength: upper.length, nextHeader: protocol, src: V6_A, dst: V6_B });
  p.set(upper, 40);
  return p;
}

/** A UDP datagram (checksum 0, nobody checks it here) with `data`, in an IP packet A → B. */
export function innerPacket(version: 4 | 6, data: Uint8Array, tos = 0): Uint8Array {
  const udp = new Uint8Array(8 + data.length);
  udp.set([0x0f, 0xa0, 0x00, 0x35, (udp.length >> 8) & 0xff, udp.length & 0xff, 0, 0]);
  udp.set(data, 8);
  return ipPacket(version, udp, IPPROTO.UDP, tos);
}

export interface AhPairOptions {
  integ: Exclude<IntegId, 0>;
  backend: CryptoBackendName;
  mode: 'tunnel' | 'transport';
  outerVersion: 4 | 6;
  esn: boolean;
  seed: number;
  ipv4Align?: 4 | 8;
  sequenceStart?: { hi: number; lo: number };
}

/** An outbound AH SA and its inbound twin (same key and SPI). */
export function ahPair(o: AhPairOptions): { out: AhSa; in: AhSa } {
  const common: Omit<AhSaConfig, 'id' | 'direction'> = {
    spi: 0x2000 + o.seed,
    integ: o.integ,
    key: keyFor(o.integ, o.seed),
    backend: o.backend,
    mode: o.mode,
    esn: o.esn,
    ...(o.ipv4Align ? { ipv4Align: o.ipv4Align } : {}),
    ...(o.mode === 'tunnel' ? { tunnel: o.outerVersion === 4 ? { src: V4_GW_A, dst: V4_GW_B } : { src: V6_GW_A, dst: V6_GW_B } } : {}),
  };
  return {
    out: createAhSa({ ...common, id: 'ah-out', direction: 'outbound', ...(o.sequenceStart ? { sequenceStart: o.sequenceStart } : {}) }),
    in: createAhSa({ ...common, id: 'ah-in', direction: 'inbound' }),
  };
}

/** A lookup that finds `sa` by its SPI only. */
export const lookupOf =
  <T extends { spi: number }>(...sas: T[]) =>
  (spi: number): T | undefined =>
    sas.find((s) => s.spi === spi);

export const arbAhCase = fc.record({
  integ: fc.constantFrom(...AH_INTEGS),
  mode: fc.constantFrom('tunnel' as const, 'transport' as const),
  innerVersion: fc.constantFrom(4 as const, 6 as const),
  outerVersion: fc.constantFrom(4 as const, 6 as const),
  esn: fc.boolean(),
  ipv4Align: fc.constantFrom(4 as const, 8 as const),
  seed: fc.integer({ min: 0, max: 0xfff }),
  payload: fc.uint8Array({ minLength: 0, maxLength: 1500 }),
});

export { prng } from '../../support/random.js';
