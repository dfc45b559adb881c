/** Bundle test helpers: ESP and AH SA pairs of the NDIS 5.1 offload table, a SAD map, IVs. */

import { AhSa, createAhSa } from '../../../engine/ah/ahSa.js';
import type { BundleLookup, BundleSa } from '../../../engine/bundle/bundle.js';
import { INTEG_SPECS } from '../../../engine/crypto/suites.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import type { CryptoBackendName, EspSuiteSpec } from '../../../engine/crypto/types.js';
import { createEspSa, type EspSa } from '../../../engine/esp/espSa.js';
import { standardIvSource, type IvSource } from '../../../engine/esp/ivSource.js';
import type { IpsecMode, TunnelEndpoints } from '../../../engine/sa/types.js';
import { V4_GW_A, V4_GW_B, V6_GW_A, V6_GW_B, prng } from '../ah/fixtures.js';

/**
 * The NDIS 5.1 task-offload table (IPSEC_OFFLOAD_V1): AH with HMAC-MD5 or HMAC-SHA1, ESP with
 * HMAC-MD5 or HMAC-SHA1 and a cipher (here AES-CBC-128, the table's DES/3DES being gone) or the
 * NULL cipher, in either order.
 */
export const NDIS_AH = [INTEG.HMAC_MD5_96, INTEG.HMAC_SHA1_96] as const;
export const NDIS_ESP: readonly { name: string; suite: EspSuiteSpec }[] = [
  { name: 'aes128-md5', suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_MD5_96 } },
  { name: 'aes128-sha1', suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 } },
  { name: 'null-md5', suite: { encr: ENCR.NULL, integ: INTEG.HMAC_MD5_96 } },
  { name: 'null-sha1', suite: { encr: ENCR.NULL, integ: INTEG.HMAC_SHA1_96 } },
];

const bytes = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (k * 37 + i * 11 + 1) & 0xff);

export function gateways(version: 4 | 6): TunnelEndpoints {
  return version === 4 ? { src: V4_GW_A, dst: V4_GW_B } : { src: V6_GW_A, dst: V6_GW_B };
}

export interface Pair<T> {
  out: T;
  in: T;
}

export function espPair(suite: EspSuiteSpec, mode: IpsecMode, spi: number, backend: CryptoBackendName, tunnel?: TunnelEndpoints): Pair<EspSa> {
  const keys = {
    encKey: suite.encr === ENCR.NULL ? new Uint8Array(0) : bytes(16, spi),
    integKey: bytes(INTEG_SPECS[suite.integ as 1].keyLength, spi + 1),
  };
  const common = { spi, suite, keys, backend, mode, ...(tunnel ? { tunnel } : {}) };
  return { out: createEspSa({ ...common, id: `esp-${spi}-out`, direction: 'outbound' }), in: createEspSa({ ...common, id: `esp-${spi}-in`, direction: 'inbound' }) };
}

export function ahPairOf(
  integ: 1 | 2 | 12 | 13 | 14,
  mode: IpsecMode,
  spi: number,
  backend: CryptoBackendName,
  tunnel?: TunnelEndpoints,
  sequenceStart?: { hi: number; lo: number },
): Pair<AhSa> {
  const common = { spi, integ, key: bytes(INTEG_SPECS[integ].keyLength, spi + 2), backend, mode, ...(tunnel ? { tunnel } : {}) };
  return {
    out: createAhSa({ ...common, id: `ah-${spi}-out`, direction: 'outbound', ...(sequenceStart ? { sequenceStart } : {}) }),
    in: createAhSa({ ...common, id: `ah-${spi}-in`, direction: 'inbound' }),
  };
}

/** A SAD: inbound SAs by (protocol, SPI). The destination is not checked here. */
export function sad(...sas: BundleSa[]): BundleLookup {
  const byKey = new Map(sas.map((sa) => [`${sa instanceof AhSa ? 51 : 50}/${sa.spi}`, sa]));
  return (spi, _dst, protocol) => byKey.get(`${protocol}/${spi}`);
}

/** Deterministic IVs (CBC wants unpredictable ones on a live SA; a test wants reproducible ones). */
export function testIvs(seed: number): IvSource {
  const rnd = prng(seed);
  return standardIvSource((b) => {
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  });
}
