import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryKeyStore } from '../../../adapters/keyStore/memoryKeyStore.js';
import { loadKek, sealedFileKeyStore } from '../../../adapters/keyStore/sealedFileKeyStore.js';
import { KeyUnavailable } from '../../../adapters/keyStore/types.js';
import { keyFingerprint } from '../../../engine/keys/fingerprint.js';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'ipsec-es-keys-'));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('sealed file key store', () => {
  it('round-trips key material, and no key byte is in the directory in the clear', async () => {
    const directory = await tempDir();
    const kek = randomBytes(32);
    const store = await sealedFileKeyStore({ directory, kek });
    const material = { encKey: randomBytes(36), integKey: randomBytes(32) };
    await store.put('sa-1/keys', material);
    expect(await store.get('sa-1/keys')).toEqual({ encKey: Uint8Array.from(material.encKey), integKey: Uint8Array.from(material.integKey) });
    // grep the directory for the keys, as bytes, hex and base64.
    for (const name of await readdir(directory)) {
      const bytes = await readFile(join(directory, name));
      const text = bytes.toString('latin1');
      for (const key of [material.encKey, material.integKey]) {
        expect(bytes.includes(key)).toBe(false);
        expect(text.includes(key.toString('hex'))).toBe(false);
        expect(text.includes(key.toString('base64'))).toBe(false);
      }
    }
  });

  it('destroying the KEK makes every old key unreadable (crypto-shredding); a wrong KEK says so', async () => {
    const directory = await tempDir();
    const first = await sealedFileKeyStore({ directory, kek: randomBytes(32) });
    await first.put('sa-1/keys', { encKey: randomBytes(20) });
    await first.put('sa-2/keys', { encKey: randomBytes(20) });
    await first.close(); // the KEK is gone with it
    const other = await sealedFileKeyStore({ directory, kek: randomBytes(32) });
    for (const ref of ['sa-1/keys', 'sa-2/keys']) {
      await expect(other.get(ref)).rejects.toBeInstanceOf(KeyUnavailable);
      await expect(other.get(ref)).rejects.toMatchObject({ code: 'keys.wrongKek', reason: 'wrongKek' });
    }
  });

  it('a sealed file cannot be passed off as another reference (the reference is the AAD)', async () => {
    const directory = await tempDir();
    const kek = randomBytes(32);
    const store = await sealedFileKeyStore({ directory, kek });
    await store.put('a', { encKey: randomBytes(16) });
    await store.put('b', { encKey: randomBytes(16) });
    const [fa, fb] = (await readdir(directory)).sort();
    const swapped = JSON.parse(await readFile(join(directory, fa!), 'utf8'));
    const target = JSON.parse(await readFile(join(directory, fb!), 'utf8'));
    await writeFile(join(directory, fb!), JSON.stringify({ ...swapped, keyRef: target.keyRef }));
    await expect(store.get(target.keyRef)).rejects.toMatchObject({ reason: 'wrongKek' });
    await store.delete('a');
    await expect(store.get('a')).rejects.toMatchObject({ reason: 'missing' });
  });

  it('loads a KEK from a file or the environment, naming the source when it is bad', async () => {
    const directory = await tempDir();
    const hex = randomBytes(32).toString('hex');
    await writeFile(join(directory, 'kek'), `${hex}\n`);
    expect(Buffer.from(await loadKek({ file: join(directory, 'kek') })).toString('hex')).toBe(hex);
    process.env.IPSEC_ES_TEST_KEK = hex;
    expect(Buffer.from(await loadKek({ env: 'IPSEC_ES_TEST_KEK' })).toString('hex')).toBe(hex);
    process.env.IPSEC_ES_TEST_KEK = 'abc';
    await expect(loadKek({ env: 'IPSEC_ES_TEST_KEK' })).rejects.toThrow(/environment variable IPSEC_ES_TEST_KEK must be 64 hex digits/);
    await expect(loadKek({ file: join(directory, 'nope') })).rejects.toThrow(/file .*nope must be 64 hex digits \(256 bits\), and it is missing/);
    delete process.env.IPSEC_ES_TEST_KEK;
  });
});

describe('memory key store (ephemeral keys)', () => {
  it('keeps keys for this process only', async () => {
    const keys = memoryKeyStore();
    const k = randomBytes(20);
    await keys.put('x', { encKey: k });
    expect(await keys.get('x')).toEqual({ encKey: Uint8Array.from(k) });
    await expect(memoryKeyStore().get('x')).rejects.toMatchObject({ code: 'keys.ephemeral' });
  });
});

describe('key fingerprints', () => {
  it('tell keys apart, depend on every part and its boundaries, and contain no key bytes', () => {
    const a = randomBytes(16);
    const b = randomBytes(16);
    expect(keyFingerprint(a, b)).toBe(keyFingerprint(Uint8Array.from(a), Uint8Array.from(b)));
    expect(keyFingerprint(a, b)).not.toBe(keyFingerprint(b, a));
    expect(keyFingerprint(Buffer.concat([a, b]))).not.toBe(keyFingerprint(a, b));
    expect(keyFingerprint(a)).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(keyFingerprint(a).includes(a.toString('hex').slice(0, 8))).toBe(false);
  });
});
