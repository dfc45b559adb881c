import { createHmac } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { backendNamed } from '../../../engine/crypto/backends.js';
import { createEspTransform } from '../../../engine/crypto/espTransform.js';
import { NATIVE_CRYPTO_ADDON_PATH, nativeCryptoStatus, preferredBackend } from '../../../engine/crypto/nativeBackend.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { hex } from '../../vectors/load.js';

// The transform in C beyond what vectors.test.ts runs on every back end (native included when
// built: the GCM and GMAC vectors, single and batch calls, AES-CTR with its HMAC ICV): the HMAC
// framing with ESN, threads, disposal, misuse. Skipped, with the reason in the title, only when
// the addon is not built.
const status = nativeCryptoStatus();
const skip = status.available ? '' : ` (skipped: ${status.why})`;

describe.skipIf(!status.available)(`ESP transforms on published vectors, native back end${skip}`, () => {
  it('HMAC-SHA2 ICVs with ESN: RFC 4868 truncation over ESP ‖ Seq_hi (RFC 4303 §3.3.2.1), by an independent HMAC', () => {
    const cases = [
      [INTEG.HMAC_SHA1_96, 'sha1', 20, 12],
      [INTEG.HMAC_SHA2_256_128, 'sha256', 32, 16],
      [INTEG.HMAC_SHA2_384_192, 'sha384', 48, 24],
      [INTEG.HMAC_SHA2_512_256, 'sha512', 64, 32],
    ] as const;
    for (const [integ, hash, keyLength, icvLength] of cases) {
      const integKey = Uint8Array.from({ length: keyLength }, (_, i) => i + 1);
      const t = createEspTransform({ encr: ENCR.NULL, integ }, { encKey: new Uint8Array(0), integKey }, 'native');
      expect(t.backend).toBe('native');
      const esp = Uint8Array.from({ length: 8 + 40 + icvLength }, (_, i) => (i * 7) & 0xff);
      t.seal(esp, 0x01020304);
      const covered = esp.subarray(0, 48);
      const icv = createHmac(hash, integKey).update(covered).update(Uint8Array.of(1, 2, 3, 4)).digest().subarray(0, icvLength);
      expect(toHex(esp.subarray(48))).toBe(toHex(icv));
      expect(t.open(esp, 0x01020304)).toBe(true);
      expect(t.open(esp, undefined)).toBe(false);
    }
  });

  it("HMAC-MD5-96 is not offered in C: the same framing runs on node's primitives, and says so", () => {
    const t = createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_MD5_96 }, { encKey: new Uint8Array(16), integKey: new Uint8Array(16) }, 'native');
    expect(t.backend).toBe('node');
    expect(t.name).toBe('aes128-md5');
  });

  it('backendNamed and preferredBackend name the native back end; its primitives are OpenSSL through node:crypto', () => {
    expect(backendNamed('native').name).toBe('native');
    expect(preferredBackend()).toBe('native');
    expect(toHex(backendNamed('native').mac('sha256', hex('0b'.repeat(20))).compute([hex('4869205468657265')]))).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7', // RFC 4231 test case 1
    );
  });

  it('dispose frees the SA now; a later call is an error, not a crash', () => {
    const t = createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(20) }, 'native');
    t.dispose();
    t.dispose();
    expect(() => t.open(new Uint8Array(64), undefined)).toThrow(/after destroy/);
    expect(() => t.seal(new Uint8Array(64), undefined)).toThrow(/after destroy/);
  });

  it('loads in worker threads too (one instance per thread), and they seal the same bytes', async () => {
    const file = process.env.IPSEC_ES_CRYPTO_ADDON || new URL(`../../../${NATIVE_CRYPTO_ADDON_PATH}`, import.meta.url).pathname;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const sa = require(workerData.file).create(20, 128, new Uint8Array(20).fill(9), 0, undefined);
      const esp = new Uint8Array(64).fill(1);
      sa.seal(esp, 5);
      const copy = esp.slice();
      parentPort.postMessage({ sealed: Buffer.from(esp).toString('hex'), opened: sa.open(copy, 5) });`;
    const results = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<{ sealed: string; opened: boolean }>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { file } });
            w.once('message', (m) => void w.terminate().then(() => resolve(m)));
            w.once('error', reject);
          }),
      ),
    );
    const t = createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(20).fill(9) }, 'node');
    const esp = new Uint8Array(64).fill(1);
    t.seal(esp, 5);
    for (const r of results) expect(r).toEqual({ sealed: toHex(esp), opened: true });
  });

  it('misuse throws and names the argument; content never does', () => {
    const t = createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, { encKey: new Uint8Array(16), integKey: new Uint8Array(32) }, 'native');
    expect(() => t.seal(new Uint8Array(8 + 16 + 17 + 16), undefined)).toThrow(RangeError);
    expect(() => t.seal(new Uint8Array(10), undefined)).toThrow(/^esp: is shorter/);
    expect(() => t.open('x' as unknown as Uint8Array, undefined)).toThrow(TypeError);
    expect(() => t.open(new Uint16Array(40) as unknown as Uint8Array, undefined)).toThrow(TypeError);
    expect(() => t.open(new Uint8Array(64), 'x' as unknown as number)).toThrow(TypeError);
    expect(() => t.openBatch([new Uint8Array(64)], 2, undefined, new Uint8Array(2))).toThrow(/^count/);
    expect(() => t.openBatch([new Uint8Array(64)], 1, new Uint32Array(0), new Uint8Array(2))).toThrow(/^seqHis/);
    expect(() => t.openBatch([new Uint8Array(64)], 1, undefined, new Uint8Array(0))).toThrow(/^ok/);
    expect(() => t.sealBatch([{} as Uint8Array], 1, undefined)).toThrow(TypeError);
    for (let n = 0; n < 80; n++) expect(t.open(new Uint8Array(n), n)).toBe(false);
  });
});

describe(`the native back end's status`, () => {
  it('is reported without throwing, with a reason when missing', () => {
    const s = nativeCryptoStatus();
    if (s.available) expect(s.openssl).toMatch(/^OpenSSL 3/);
    else expect(s.why).toMatch(/npm run build:native|IPSEC_ES_CRYPTO_ADDON names/);
  });

  it.skipIf(status.available)('when missing: node is preferred, and asking for native names the fix', () => {
    expect(preferredBackend()).toBe('node');
    expect(() => backendNamed('native')).toThrow(/crypto back end 'native' is unavailable/);
    expect(() => createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(20) }, 'native')).toThrow(/unavailable/);
  });
});
