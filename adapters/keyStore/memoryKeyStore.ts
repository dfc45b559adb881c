import { KeyUnavailable, type KeyMaterial, type KeyStore } from './types.js';

/**
 * Keys in memory only: the twin for tests, and `keys: 'ephemeral'` for gateways that persist no
 * keys at all (after a restart every SA is renegotiated: `get` says `ephemeral`).
 *
 * @example
 * const keys = memoryKeyStore();
 */
export function memoryKeyStore(): KeyStore {
  const keys = new Map<string, KeyMaterial>();
  const copy = (m: KeyMaterial): KeyMaterial => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v && Uint8Array.from(v)]));
  return {
    async put(keyRef, material) {
      keys.set(keyRef, copy(material));
    },
    async get(keyRef) {
      const m = keys.get(keyRef);
      if (!m) throw new KeyUnavailable(keyRef, 'ephemeral', `no key for ${keyRef}: keys are kept in memory only and this process never had it (or it was deleted); renegotiate the SA`);
      return copy(m);
    },
    async delete(keyRef) {
      keys.get(keyRef) && Object.values(keys.get(keyRef)!).forEach((v) => v?.fill(0));
      keys.delete(keyRef);
    },
    async close() {
      for (const m of keys.values()) Object.values(m).forEach((v) => v?.fill(0));
      keys.clear();
    },
  };
}
