/**
 * IKEv2 pseudorandom functions (RFC 7296 §2.13): prf = HMAC with SHA-1 or SHA-2 (RFC 4868
 * §2.2), and prf+, the iterated expansion keys are taken from. Pure computation on the crypto
 * back end chosen (`node` or `noble`); the two give identical bytes.
 */

import type { CryptoBackend, HashAlgorithm } from '../crypto/backend.js';
import { backendNamed } from '../crypto/backends.js';
import type { CryptoBackendName } from '../crypto/types.js';
import { requireBytes, requireUint } from './codec.js';
import { PRF_ID, type PrfId } from './constants.js';

/** A PRF transform: its hash and output size. */
export interface PrfSpec {
  readonly hash: HashAlgorithm;
  /** Octets of output; for HMAC PRFs also the preferred key length (§2.13). */
  readonly outputLength: number;
  /** strongSwan's proposal keyword. */
  readonly name: string;
}

/** RFC 4868 §2.4 (SHA-2 PRFs, untruncated HMAC output); RFC 2104 for HMAC-SHA1. */
export const PRF_SPECS: Readonly<Record<PrfId, PrfSpec>> = {
  [PRF_ID.HMAC_SHA1]: { hash: 'sha1', outputLength: 20, name: 'prfsha1' },
  [PRF_ID.HMAC_SHA2_256]: { hash: 'sha256', outputLength: 32, name: 'prfsha256' },
  [PRF_ID.HMAC_SHA2_384]: { hash: 'sha384', outputLength: 48, name: 'prfsha384' },
  [PRF_ID.HMAC_SHA2_512]: { hash: 'sha512', outputLength: 64, name: 'prfsha512' },
};

/** §2.13: "The prf+ function is not defined beyond 255 times the size of the prf function output." */
export const PRF_PLUS_MAX_BLOCKS = 255;

/** A negotiated PRF bound to a back end. Keys and data are read during the call, never kept. */
export interface Prf {
  readonly id: PrfId;
  readonly backend: CryptoBackendName;
  readonly outputLength: number;
  /** §2.13: "For PRFs based on the HMAC construction, the preferred key size is equal to the length of the output". */
  readonly preferredKeyLength: number;
  /** prf(K, S) with S the concatenation of `data`. */
  compute(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Uint8Array;
  /** prf+(K, S), `length` octets (§2.13). */
  plus(key: Uint8Array, seed: Uint8Array | readonly Uint8Array[], length: number): Uint8Array;
}

/**
 * Looks up a PRF transform; RangeError naming `prf` when unknown or unsupported (AES-XCBC and
 * AES-CMAC PRFs are not implemented).
 *
 * @example
 * prfSpec(PRF_ID.HMAC_SHA2_256).outputLength // 32
 */
export function prfSpec(prf: number): PrfSpec {
  const spec = (PRF_SPECS as Record<number, PrfSpec | undefined>)[prf];
  if (spec === undefined) throw new RangeError(`prf: unknown or unsupported PRF transform ${prf}`);
  return spec;
}

const asParts = (data: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] => (data instanceof Uint8Array ? [data] : data);

/**
 * The PRF for a transform ID on a back end (default `node`).
 *
 * @example
 * const prf = createPrf(PRF_ID.HMAC_SHA2_256);
 * const skeyseed = prf.compute(concat(ni, nr), gir);
 */
export function createPrf(id: number, backend: CryptoBackend | CryptoBackendName = 'node'): Prf {
  const spec = prfSpec(id);
  const impl = typeof backend === 'string' ? backendNamed(backend) : backend;
  const checkKey = (key: Uint8Array) => requireBytes(key, 'key', 0, Number.MAX_SAFE_INTEGER);
  return {
    id: id as PrfId,
    backend: impl.name,
    outputLength: spec.outputLength,
    preferredKeyLength: spec.outputLength,
    compute(key, data) {
      checkKey(key);
      return impl.mac(spec.hash, key).compute(asParts(data));
    },
    plus(key, seed, length) {
      checkKey(key);
      requireUint(length, PRF_PLUS_MAX_BLOCKS * spec.outputLength, 'length');
      // The key is prepared once for all the T blocks.
      const mac = impl.mac(spec.hash, key);
      const s = asParts(seed);
      const out = new Uint8Array(length);
      let t: Uint8Array = new Uint8Array(0);
      // §2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); keys are taken from T1 | T2 | ...
      for (let n = 1, filled = 0; filled < length; n++) {
        t = mac.compute([t, ...s, Uint8Array.of(n)]);
        out.set(t.subarray(0, Math.min(t.length, length - filled)), filled);
        filled += t.length;
      }
      return out;
    },
  };
}
