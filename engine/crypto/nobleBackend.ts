import { cbc, ctr, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { AEAD_TAG, type Aead, type CryptoBackend, type HashAlgorithm, type RawCipher } from './backend.js';

const HASHES = { md5, sha1, sha256, sha384, sha512 } satisfies Record<HashAlgorithm, unknown>;

/**
 * The portable back end: @noble/ciphers and @noble/hashes, pure JavaScript, for runtimes
 * without node:crypto. HMAC keyed state is prepared once per SA and cloned per packet.
 *
 * @example
 * const mac = nobleBackend.mac('sha256', key).compute([data]);
 */
export const nobleBackend: CryptoBackend = {
  name: 'noble',
  aead(algorithm, key): Aead {
    const make = algorithm === 'aes-gcm' ? gcm : chacha20poly1305;
    const k = key.slice();
    return {
      seal(nonce, aad, plaintext, out) {
        out.set(make(k, nonce, aad).encrypt(plaintext), 0);
      },
      open(nonce, aad, sealed, out) {
        if (sealed.length < AEAD_TAG) return false;
        let pt: Uint8Array;
        try {
          pt = make(k, nonce, aad).decrypt(sealed); // throws on a bad tag
        } catch {
          return false;
        }
        out.set(pt, 0);
        return true;
      },
    };
  },
  rawCipher(algorithm, key): RawCipher {
    const k = key.slice();
    const make = algorithm === 'aes-cbc' ? (iv: Uint8Array) => cbc(k, iv, { disablePadding: true }) : (iv: Uint8Array) => ctr(k, iv);
    return {
      encrypt: (iv, data, out) => out.set(make(iv).encrypt(data), 0),
      decrypt: (iv, data, out) => out.set(make(iv).decrypt(data), 0),
    };
  },
  mac(hash, key) {
    const keyed = hmac.create(HASHES[hash], key);
    return {
      compute(parts) {
        const h = keyed.clone();
        for (const p of parts) h.update(p);
        return h.digest();
      },
    };
  },
};
