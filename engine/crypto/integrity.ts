import { constantTimeEqual } from '../bytes.js';
import { requireRange } from '../errors.js';
import type { CryptoBackend } from './backend.js';
import { backendNamed } from './backends.js';
import { integSpec } from './suites.js';
import type { IntegId } from './transformIds.js';
import type { CryptoBackendName, Integrity } from './types.js';

/**
 * Prepares an HMAC integrity transform (RFC 2403, 2404, 4868) with its key, once per SA.
 * The ICV is the leftmost `icvLength` octets of the HMAC (RFC 2104 §5 truncation).
 *
 * @example
 * const integ = createIntegrity(INTEG.HMAC_SHA2_256_128, key32);
 * integ.computeInto([header, payload], packet, icvOffset);
 */
export function createIntegrity(
  id: IntegId,
  key: Uint8Array,
  backend: CryptoBackend | CryptoBackendName = 'node',
): Integrity {
  const spec = integSpec(id);
  // RFC 4868 §2.1.1, RFC 2403 §3, RFC 2404 §3: the key is exactly the hash's output size here.
  requireRange(key.length === spec.keyLength, 'integKey', `must be ${spec.keyLength} bytes for ${spec.name}, got ${key.length}`);
  const mac = (typeof backend === 'string' ? backendNamed(backend) : backend).mac(spec.hash, key);
  const icvLength = spec.icvLength;
  return {
    id,
    icvLength,
    computeInto(parts, out, outOffset) {
      out.set(mac.compute(parts).subarray(0, icvLength), outOffset);
    },
    verify(parts, icv) {
      return icv.length === icvLength && constantTimeEqual(mac.compute(parts).subarray(0, icvLength), icv);
    },
  };
}
