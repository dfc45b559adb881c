/**
 * The sealed key store from the command line: `--kek file:<path>` or `--kek env:<NAME>`.
 */
import { loadKek, sealedFileKeyStore } from '../../adapters/keyStore/sealedFileKeyStore.js';
import type { KeyStore } from '../../adapters/keyStore/types.js';
import { CliError, EXIT } from './command.js';

/**
 * Opens the sealed key store in `directory` with the KEK `ref` names; a missing or malformed
 * KEK is a `CliError` (exit 4) that says how to make one.
 *
 * @example
 * const keys = await openKeyStore('/var/lib/ipsec-es/a/keys', 'env:IPSEC_ES_KEK');
 */
export async function openKeyStore(directory: string, ref: string): Promise<KeyStore> {
  const m = /^(file|env):(.+)$/.exec(ref);
  if (!m) throw new CliError(`--kek must be file:<path> or env:<NAME>, got ${ref}`, EXIT.usage);
  try {
    const kek = await loadKek(m[1] === 'file' ? { file: m[2]! } : { env: m[2]! });
    return await sealedFileKeyStore({ directory, kek });
  } catch (e) {
    throw new CliError(`key store locked: ${(e as Error).message}`, EXIT.store);
  }
}
