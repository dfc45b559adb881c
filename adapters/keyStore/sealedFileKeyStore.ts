import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IpsecError } from '../../engine/errors.js';
import { KeyUnavailable, type KeyMaterial, type KeyStore } from './types.js';

const MAGIC = 'ipsec-es sealed key v1';

/** Where the key-encryption key comes from: 32 bytes, hex in a file or an environment variable. */
export type KekSource = { file: string } | { env: string } | { bytes: Uint8Array };

/**
 * Reads a 256-bit KEK. Throws `IpsecError('keys.kek')` naming the source when it is missing or not
 * 64 hex digits.
 *
 * @example
 * const kek = await loadKek({ env: 'IPSEC_ES_KEK' });
 */
export async function loadKek(source: KekSource): Promise<Uint8Array> {
  let text: string | undefined;
  let where: string;
  if ('bytes' in source) {
    if (source.bytes.length !== 32) throw new IpsecError('keys.kek', `the KEK must be 32 bytes, got ${source.bytes.length}`);
    return source.bytes;
  } else if ('file' in source) {
    where = `file ${source.file}`;
    text = await readFile(source.file, 'utf8').catch(() => undefined);
  } else {
    where = `environment variable ${source.env}`;
    text = process.env[source.env];
  }
  const hex = text?.trim() ?? '';
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new IpsecError('keys.kek', `the KEK in ${where} must be 64 hex digits (256 bits)${text === undefined ? ', and it is missing' : ''}; make one with: openssl rand -hex 32`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * Keys sealed with AES-256-GCM under a key-encryption key, one file per reference: a random
 * 96-bit nonce per seal, the reference as AAD (a sealed file cannot be passed off as another
 * key), written to a temporary file, fsynced and renamed. Destroying the KEK makes every sealed
 * key unreadable (crypto-shredding); a wrong KEK is reported as `KeyUnavailable('wrongKek')`.
 *
 * @example
 * const keys = await sealedFileKeyStore({ directory: 'store/keys', kek: await loadKek({ env: 'IPSEC_ES_KEK' }) });
 */
export async function sealedFileKeyStore(options: { directory: string; kek: Uint8Array }): Promise<KeyStore> {
  if (options.kek.length !== 32) throw new RangeError(`kek: must be 32 bytes, got ${options.kek.length}`);
  const kek = Buffer.from(options.kek);
  await mkdir(options.directory, { recursive: true, mode: 0o700 });
  // One file per reference; the name hides nothing secret but keeps paths safe.
  const path = (keyRef: string) => join(options.directory, `${createHash('sha256').update(keyRef).digest('hex').slice(0, 32)}.key`);
  return {
    async put(keyRef, material) {
      const plain = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(material).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(v!).toString('hex')]))));
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', kek, nonce);
      c.setAAD(Buffer.from(keyRef));
      const sealed = Buffer.concat([c.update(plain), c.final()]);
      plain.fill(0);
      const body = JSON.stringify({ magic: MAGIC, keyRef, nonce: nonce.toString('hex'), sealed: sealed.toString('hex'), tag: c.getAuthTag().toString('hex') });
      const file = path(keyRef);
      const tmp = `${file}.tmp-${process.pid}`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    },
    async get(keyRef) {
      let raw: string;
      try {
        raw = await readFile(path(keyRef), 'utf8');
      } catch {
        throw new KeyUnavailable(keyRef, 'missing', `no sealed key for ${keyRef} in ${options.directory}: it was deleted or never stored; renegotiate the SA`);
      }
      let rec: { magic: string; keyRef: string; nonce: string; sealed: string; tag: string };
      try {
        rec = JSON.parse(raw);
        if (rec.magic !== MAGIC || rec.keyRef !== keyRef) throw new Error('not a sealed key of this reference');
      } catch (e) {
        throw new KeyUnavailable(keyRef, 'corrupted', `the sealed key file for ${keyRef} is damaged (${(e as Error).message}); renegotiate the SA`);
      }
      const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(rec.nonce, 'hex'));
      d.setAAD(Buffer.from(keyRef));
      d.setAuthTag(Buffer.from(rec.tag, 'hex'));
      let plain: Buffer;
      try {
        plain = Buffer.concat([d.update(Buffer.from(rec.sealed, 'hex')), d.final()]);
      } catch {
        throw new KeyUnavailable(keyRef, 'wrongKek', `the key for ${keyRef} does not open with this KEK: the KEK is not the one it was sealed with (or was destroyed); renegotiate the SA`);
      }
      const out: KeyMaterial = {};
      for (const [k, v] of Object.entries(JSON.parse(plain.toString('utf8')) as Record<string, string>)) out[k] = Uint8Array.from(Buffer.from(v, 'hex'));
      plain.fill(0);
      return out;
    },
    async delete(keyRef) {
      await rm(path(keyRef), { force: true });
    },
    async close() {
      kek.fill(0);
    },
  };
}
