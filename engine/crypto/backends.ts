import type { CryptoBackend } from './backend.js';
import { nativeBackend } from './nativeBackend.js';
import { nobleBackend } from './nobleBackend.js';
import { nodeBackend } from './nodeBackend.js';
import type { CryptoBackendName } from './types.js';

/**
 * The back end registered under a name. `native` throws an `IpsecError`
 * (`crypto.nativeUnavailable`, naming `npm run build:native`) when its addon is not built.
 *
 * @example
 * backendNamed('noble').aead('aes-gcm', key)
 */
export function backendNamed(name: CryptoBackendName): CryptoBackend {
  if (name === 'node') return nodeBackend;
  if (name === 'noble') return nobleBackend;
  if (name === 'native') return nativeBackend();
  throw new RangeError(`backend: must be 'node', 'noble' or 'native', got ${String(name)}`);
}
