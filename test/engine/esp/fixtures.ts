import { fc } from '@fast-check/vitest';
import { ENCR_SPECS, INTEG_SPECS, encrSpec } from '../../../engine/crypto/suites.js';
import { ENCR, INTEG, type EncrId, type IntegId } from '../../../engine/crypto/transformIds.js';
import type { CryptoBackendName, EspSuiteSpec } from '../../../engine/crypto/types.js';
import { createEspSa, type EspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { writeIpv6Header } from '../../../engine/packet/ipv6.js';

/** Every ESP suite the engine registers: combined modes alone, the others with each HMAC. */
export const ALL_SUITES: EspSuiteSpec[] = (() => {
  const out: EspSuiteSpec[] = [];
  const integs = Object.keys(INTEG_SPECS).map(Number) as IntegId[];
  for (const [id, spec] of Object.entries(ENCR_SPECS)) {
    const encr = Number(id) as EncrId;
    for (const bits of spec.keyBits) {
      const encrKeyBits = bits === 0 ? undefined : bits;
      if (spec.combinedIcv !== undefined) out.push({ encr, encrKeyBits, integ: INTEG.NONE });
      else for (const integ of integs) out.push({ encr, encrKeyBits, integ });
    }
  }
  return out;
})();

/** Keys of the right sizes for a suite, from `seed` bytes (deterministic). */
export function keysFor(suite: EspSuiteSpec, seed: number): EspSaConfig['keys'] {
  const { spec, keyBits } = encrSpec(suite.encr, suite.encrKeyBits);
  const bytes = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7 + k) & 0xff);
  const encKey = bytes(keyBits / 8 + spec.saltLength, 1);
  return suite.integ === INTEG.NONE ? { encKey } : { encKey, integKey: bytes(INTEG_SPECS[suite.integ as 1].keyLength, 2) };
}

export const V4_A = Uint8Array.of(192, 0, 2, 1);
export const V4_B = Uint8Array.of(192, 0, 2, 2);
export const V6_A = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 1 ? 0x01 : i === 2 ? 0x0d : i === 3 ? 0xb8 : i === 15 ? 1 : 0));
export const V6_B = V6_A.map((b, i) => (i === 15 ? 2 : b));

/** An IPv4 or IPv6 packet carrying `payload` as `protocol` (UDP by default), addresses A → B. */
export function innerPacket(version: 4 | 6, payload: Uint8Array, protocol: number = IPPROTO.UDP, tos = 0): Uint8Array {
  if (version === 4) {
    const p = new Uint8Array(20 + payload.length);
    writeIpv4Header(p, 0, { tos, totalLength: p.length, protocol, src: V4_A, dst: V4_B, identification: 7, dontFragment: true });
    p.set(payload, 20);
    return p;
  }
  const p = new Uint8Array(40 + payload.length);
  writeIpv6Header(p, 0, { trafficClass: tos, payloadLength: payload.length, nextHeader: protocol, src: V6_A, dst: V6_B });
  p.set(payload, 40);
  return p;
}

export interface SaPairOptions {
  suite: EspSuiteSpec;
  backend: CryptoBackendName;
  mode: 'tunnel' | 'transport';
  outerVersion: 4 | 6;
  natT: boolean;
  esn: boolean;
  tfcPadTo?: number;
  seed: number;
}

/** An outbound SA and its inbound twin with the same keys and SPI. */
export function saPair(o: SaPairOptions): { out: EspSa; in: EspSa } {
  const common: Omit<EspSaConfig, 'id' | 'direction'> = {
    spi: 0x1000 + o.seed,
    suite: o.suite,
    keys: keysFor(o.suite, o.seed),
    backend: o.backend,
    mode: o.mode,
    esn: o.esn,
    ...(o.mode === 'tunnel' ? { tunnel: o.outerVersion === 4 ? { src: V4_A, dst: V4_B } : { src: V6_A, dst: V6_B } } : {}),
    ...(o.natT ? { natT: { srcPort: 4500, dstPort: 4500 } } : {}),
    ...(o.tfcPadTo !== undefined ? { tfcPadTo: o.tfcPadTo } : {}),
  };
  return { out: createEspSa({ ...common, id: 'sa-out', direction: 'outbound' }), in: createEspSa({ ...common, id: 'sa-in', direction: 'inbound' }) };
}

/** A deterministic byte source for IVs, so both back ends see the same IVs. */
export function seededFill(seed: number): (b: Uint8Array) => void {
  let s = seed >>> 0 || 1;
  return (b) => {
    for (let i = 0; i < b.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      b[i] = s & 0xff;
    }
  };
}

export const arbSaOptions = fc.record({
  suite: fc.constantFrom(...ALL_SUITES),
  mode: fc.constantFrom('tunnel' as const, 'transport' as const),
  innerVersion: fc.constantFrom(4 as const, 6 as const),
  outerVersion: fc.constantFrom(4 as const, 6 as const),
  natT: fc.boolean(),
  esn: fc.boolean(),
  tfcPadTo: fc.option(fc.integer({ min: 0, max: 1600 }), { nil: undefined }),
  seed: fc.integer({ min: 0, max: 0xfff }),
  payload: fc.uint8Array({ minLength: 0, maxLength: 1500 }),
});

export { ENCR };
