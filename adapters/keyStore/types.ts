import { IpsecError } from '../../engine/errors.js';

/** Key material of one SA (or IKE SA), stored under a reference that facts carry. */
export interface KeyMaterial {
  encKey?: Uint8Array;
  integKey?: Uint8Array;
  [name: string]: Uint8Array | undefined;
}

/**
 * The key store port (DESIGN §3): keys live here, sealed, and never in the event log.
 *
 * @example
 * await keys.put('sa-7/keys', { encKey });
 */
export interface KeyStore {
  put(keyRef: string, material: KeyMaterial): Promise<void>;
  /** Throws `KeyUnavailable` when the key is gone (destroyed, ephemeral after a restart, wrong KEK). */
  get(keyRef: string): Promise<KeyMaterial>;
  delete(keyRef: string): Promise<void>;
  close(): Promise<void>;
}

/** A key that cannot be read: the SA must be renegotiated. `reason` says why. */
export class KeyUnavailable extends IpsecError {
  constructor(
    readonly keyRef: string,
    readonly reason: 'missing' | 'ephemeral' | 'wrongKek' | 'corrupted',
    message: string,
  ) {
    super(`keys.${reason}`, message);
    this.name = 'KeyUnavailable';
  }
}
