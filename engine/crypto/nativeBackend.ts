/**
 * The `native` back end (issue 10): the whole ESP transform of an SA in C, over the OpenSSL Node
 * itself links (native/crypto/crypto.c, an N-API addon; no library of its own). Contexts are
 * prepared once per SA (an EVP_CIPHER_CTX per direction keyed once, a new IV per packet; the
 * keyed HMAC states copied per packet) and `sealBatch`/`openBatch` cross into C once per batch.
 * The framing is espTransform.ts's, written again in C and checked against it byte for byte
 * (test/engine/crypto/native*.test.ts).
 *
 * It is an optional accelerator: the addon is built by `npm install` / `npm run build:native`
 * when a compiler is there. Nothing here throws at import; `nativeCryptoStatus()` says whether
 * it loaded and why not, `preferredBackend()` picks it when it did. Suites the addon does not
 * offer (HMAC-MD5-96, or an algorithm missing from the OpenSSL build) run on the node back end's
 * primitives under the same framing, and their `transform.backend` says `node`.
 *
 * The primitives of `nativeBackend` (aead, rawCipher, mac: used by IKE's SK and PRF, and by AH)
 * are node:crypto's, which is the same OpenSSL; only the ESP transform is native.
 *
 * The addon is looked up at native/crypto/build/Release/ipsec_es_crypto.node from the source
 * tree or from dist/; the environment variable IPSEC_ES_CRYPTO_ADDON names another file (a
 * sanitizer build).
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpsecError } from '../errors.js';
import type { CryptoBackend } from './backend.js';
import { nodeBackend } from './nodeBackend.js';
import { encrSpec, integSpec, type EncrSpec } from './suites.js';
import { INTEG } from './transformIds.js';
import type { CryptoBackendName, EspKeys, EspSuiteSpec, EspTransform } from './types.js';

/**
 * Where `npm run build:native` (scripts/build-native.mjs) puts the addon, relative to the package root.
 *
 * @example
 * console.log(`build it with npm run build:native: ${NATIVE_CRYPTO_ADDON_PATH}`);
 */
export const NATIVE_CRYPTO_ADDON_PATH = 'native/crypto/build/Release/ipsec_es_crypto.node';

/** The SA object the addon returns: C functions bound to one SA's OpenSSL contexts. */
interface NativeSa {
  seal(esp: Uint8Array, seqHi: number | undefined): void;
  open(esp: Uint8Array, seqHi: number | undefined): boolean;
  sealBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined): void;
  openBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined, ok: Uint8Array): void;
  destroy(): void;
}

interface CryptoAddon {
  /** undefined when the addon does not offer the suite (the caller falls back). */
  create(encr: number, keyBits: number, encKey: Uint8Array, integ: number, integKey: Uint8Array | undefined): NativeSa | undefined;
  /** The OpenSSL the addon runs on (Node's). */
  readonly openssl: string;
}

/** Whether the native back end can run here, and why not. */
export type NativeCryptoStatus = { available: true; openssl: string } | { available: false; why: string };

let loaded: { addon: CryptoAddon; status: NativeCryptoStatus } | { addon: undefined; status: NativeCryptoStatus } | undefined;

function load(): { addon: CryptoAddon | undefined; status: NativeCryptoStatus } {
  if (loaded !== undefined) return loaded;
  const here = dirname(fileURLToPath(import.meta.url));
  // engine/crypto in the source tree, dist/engine/crypto in the build.
  // A file named by IPSEC_ES_CRYPTO_ADDON is the only candidate: a missing sanitizer build must
  // not quietly become the normal one.
  const named = process.env.IPSEC_ES_CRYPTO_ADDON;
  const candidates = named ? [named] : [resolve(here, '../..', NATIVE_CRYPTO_ADDON_PATH), resolve(here, '../../..', NATIVE_CRYPTO_ADDON_PATH)];
  // Loading the addon is the only thing this module does outside the engine's pure code: a
  // require, like an import, once; no other file system access.
  const req = createRequire(import.meta.url);
  for (const file of candidates) {
    try {
      const addon = req(file) as CryptoAddon;
      loaded = { addon, status: { available: true, openssl: addon.openssl } };
      return loaded;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') continue;
      loaded = { addon: undefined, status: { available: false, why: `${file} did not load (${(e as Error).message}): rebuild it with \`npm run build:native\`` } };
      return loaded;
    }
  }
  const why = named
    ? `IPSEC_ES_CRYPTO_ADDON names ${named}, which does not exist`
    : `the addon is not built (${NATIVE_CRYPTO_ADDON_PATH}): run \`npm run build:native\`; it needs make, a C compiler, python3 and Node's headers (npm_config_nodedir, e.g. /usr)`;
  loaded = { addon: undefined, status: { available: false, why } };
  return loaded;
}

/**
 * Whether the native ESP crypto loaded, and why not: for the one line a gateway prints at start.
 * Loads the addon on first call; never throws.
 *
 * @example
 * const s = nativeCryptoStatus();
 * if (!s.available) console.log(`native ESP crypto unavailable: ${s.why}`);
 */
export function nativeCryptoStatus(): NativeCryptoStatus {
  return load().status;
}

/**
 * The fastest back end that runs here: `native` when the addon loaded, else `node`.
 *
 * @example
 * createEspSa({ ...config, backend: preferredBackend() });
 */
export function preferredBackend(): CryptoBackendName {
  return load().addon !== undefined ? 'native' : 'node';
}

function requireAddon(): CryptoAddon {
  const { addon, status } = load();
  if (addon === undefined) throw new IpsecError('crypto.nativeUnavailable', `crypto back end 'native' is unavailable: ${(status as { why: string }).why}`);
  return addon;
}

/**
 * The `native` back end as a `CryptoBackend`: its primitives are node:crypto's (the same
 * OpenSSL); `createEspTransform(suite, keys, 'native')` is what runs in C. Throws an
 * `IpsecError` (`crypto.nativeUnavailable`, naming `npm run build:native`) when the addon is
 * not built.
 *
 * @example
 * const backend = nativeBackend();
 * createEspTransform(suite, keys, backend).backend // 'native'
 */
export function nativeBackend(): CryptoBackend {
  requireAddon();
  return NATIVE;
}

const NATIVE: CryptoBackend = {
  name: 'native',
  aead: (algorithm, key) => nodeBackend.aead(algorithm, key),
  rawCipher: (algorithm, key) => nodeBackend.rawCipher(algorithm, key),
  mac: (hash, key) => nodeBackend.mac(hash, key),
};

/**
 * The ESP transform of one SA in C, or undefined when the addon does not offer this suite
 * (the caller then builds espTransform.ts's framing over node primitives). The caller has
 * validated the suite and key sizes (createEspTransform does). Throws the unavailable error
 * when the addon is not built.
 *
 * @example
 * const t = createNativeEspTransform(suite, keys) ?? createEspTransform(suite, keys, 'node');
 */
export function createNativeEspTransform(suite: EspSuiteSpec, keys: EspKeys): (EspTransform & { dispose(): void }) | undefined {
  const addon = requireAddon();
  const { spec, keyBits } = encrSpec(suite.encr, suite.encrKeyBits);
  const sa = addon.create(suite.encr, keyBits, keys.encKey, suite.integ, keys.integKey);
  if (sa === undefined) return undefined;
  return new NativeEspTransform(spec, keyBits, suite, sa);
}

/**
 * An SA's transform whose methods are the addon's C functions themselves (no JS frame between
 * the caller and C). `dispose()` frees the OpenSSL contexts now; otherwise the GC does.
 *
 * Errors are misuse only: `seal` throws a RangeError for a packet shorter than header + IV + ICV
 * or a CBC payload that is not whole blocks (the node reference throws there too); a wrong type
 * is a TypeError. In a batch, packets are handled in order, so a throw at element i comes after
 * elements 0..i-1 were sealed (or opened, with `ok` then left unwritten). `open` never throws on
 * content. Safe in worker threads (one addon instance per thread); one SA, one thread.
 */
class NativeEspTransform implements EspTransform {
  readonly name: string;
  readonly backend = 'native' as const;
  readonly ivLength: number;
  readonly padAlign: number;
  readonly icvLength: number;
  readonly combined: boolean;
  readonly confidential: boolean;
  readonly ivUnpredictable: boolean;
  readonly seal: NativeSa['seal'];
  readonly open: NativeSa['open'];
  readonly sealBatch: NativeSa['sealBatch'];
  readonly openBatch: NativeSa['openBatch'];
  readonly dispose: () => void;

  constructor(spec: EncrSpec, keyBits: number, suite: EspSuiteSpec, sa: NativeSa) {
    const combined = spec.combinedIcv !== undefined;
    const integ = combined || suite.integ === INTEG.NONE ? undefined : integSpec(suite.integ);
    this.name = integ ? `${spec.name(keyBits)}-${integ.name}` : spec.name(keyBits);
    this.ivLength = spec.ivLength;
    this.padAlign = spec.padAlign;
    this.icvLength = spec.combinedIcv ?? integ!.icvLength;
    this.combined = combined;
    this.confidential = spec.confidential;
    this.ivUnpredictable = spec.ivUnpredictable;
    this.seal = sa.seal;
    this.open = sa.open;
    this.sealBatch = sa.sealBatch;
    this.openBatch = sa.openBatch;
    this.dispose = sa.destroy;
  }
}
