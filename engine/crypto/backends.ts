import type { CryptoBackend } from './backend.js';
import { nobleBackend } from './nobleBackend.js';
import { nodeBackend } from './nodeBackend.js';
import type { CryptoBackendName } from './types.js';

/**
 * The back end registered under a name.
 *
 * @example
 * backendNamed('noble').aead('aes-gcm', key)
 */
export function backendNamed(name: CryptoBackendName): CryptoBackend {
  if (name === 'node') return nodeBackend;
  if (name === 'noble') return nobleBackend;
  throw new RangeError(`backend: must be 'node' or 'noble', got ${String(name)}`);
}
