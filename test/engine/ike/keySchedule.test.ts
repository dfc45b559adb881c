/**
 * Key derivation (RFC 7296 §2.14, §2.17, §2.18). No RFC publishes SKEYSEED or KEYMAT vectors:
 * the expected values come from gen-ike-python.py (Python hmac/hashlib, written from the RFC
 * text), a by-hand recomputation with node:crypto HMAC here, and both back ends agreeing.
 */

import { createHmac } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import {
  deriveChildSaKeys,
  deriveIkeSaKeys,
  deriveRekeyedIkeSaKeys,
  ikeSaKeyLengths,
  PRF_ID,
  type ChildSaTransforms,
  type IkeSaTransforms,
} from '../../../engine/ike/index.js';
import { loadVectors } from '../../vectors/load.js';

const BACKENDS = ['node', 'noble'] as const;
const py = loadVectors('ike/ike-python.json');
const inp = { ni: fromHex(py.inputs.ni), nr: fromHex(py.inputs.nr), spiI: fromHex(py.inputs.spiI), spiR: fromHex(py.inputs.spiR), sharedSecret: fromHex(py.inputs.gir) };
const IKE_SUITES: Record<string, IkeSaTransforms> = {
  'aes256gcm16-prfsha256': { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE, prf: PRF_ID.HMAC_SHA2_256 },
  'aes128-sha256-prfsha256': { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128, prf: PRF_ID.HMAC_SHA2_256 },
  'chacha20poly1305-prfsha384': { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE, prf: PRF_ID.HMAC_SHA2_384 },
  'aes256-sha512-prfsha512': { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_512_256, prf: PRF_ID.HMAC_SHA2_512 },
};
const CHILD_SUITES: Record<string, ChildSaTransforms> = {
  aes128gcm16: { protocol: 'esp', encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE },
  'aes256-sha256': { protocol: 'esp', encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128 },
  chacha20poly1305: { protocol: 'esp', encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE },
  'ah-sha384': { protocol: 'ah', integ: INTEG.HMAC_SHA2_384_192 },
};
const hexKeys = (k: Record<string, Uint8Array>) => Object.fromEntries(Object.entries(k).map(([n, v]) => [n, toHex(v)]));

describe.each(BACKENDS)('IKE SA keys, %s back end', (backend) => {
  for (const v of py.ikeSa) {
    it(`python/${v.suite}: SKEYSEED and SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr (§2.14)`, () => {
      const keys = deriveIkeSaKeys({ transforms: IKE_SUITES[v.suite]!, ...inp }, backend);
      const { rekey: _r, suite: _s, prf: _p, ...expected } = v;
      expect(hexKeys({ ...keys })).toEqual(expected);
    });
    it(`python/${v.suite}: rekeyed SKEYSEED with the old PRF and SK_d, new keys with the new PRF (§2.18)`, () => {
      const r = v.rekey;
      const keys = deriveRekeyedIkeSaKeys(
        { oldPrf: v.prf, oldSkD: fromHex(v.skD), transforms: IKE_SUITES['aes256gcm16-prfsha256']!, ni: fromHex(r.ni), nr: fromHex(r.nr), sharedSecret: fromHex(r.gir), spiI: fromHex(r.spiI), spiR: fromHex(r.spiR) },
        backend,
      );
      const { newTransforms: _n, ni: _i, nr: _j, gir: _g, spiI: _a, spiR: _b, ...expected } = r;
      expect(hexKeys({ ...keys })).toEqual(expected);
    });
  }
  for (const v of py.childSa) {
    it(`python/${v.suite}${v.pfs ? ' with PFS' : ''}: KEYMAT, initiator→responder first, encryption key before integrity key (§2.17)`, () => {
      const keys = deriveChildSaKeys(
        { prf: PRF_ID.HMAC_SHA2_256, skD: fromHex(py.ikeSa[0].skD), ni: inp.ni, nr: inp.nr, transforms: CHILD_SUITES[v.suite]!, ...(v.pfs ? { sharedSecret: fromHex(v.sharedSecret) } : {}) },
        backend,
      );
      const dir = (d: { encKey: string; integKey: string }) => ({ encKey: d.encKey, ...(d.integKey ? { integKey: d.integKey } : {}) });
      expect({ i2r: hexKeys({ ...keys.initiatorToResponder }), r2i: hexKeys({ ...keys.responderToInitiator }) }).toEqual({ i2r: dir(v.i2r), r2i: dir(v.r2i) });
    });
  }
});

describe('key schedule', () => {
  it('by hand: SKEYSEED = HMAC(Ni | Nr, g^ir), SK_d = T1 of prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (§2.14)', () => {
    const h = (key: Uint8Array, ...data: Uint8Array[]) => {
      const m = createHmac('sha256', key);
      for (const d of data) m.update(d);
      return new Uint8Array(m.digest());
    };
    const skeyseed = h(Buffer.concat([inp.ni, inp.nr]), inp.sharedSecret);
    const t1 = h(skeyseed, inp.ni, inp.nr, inp.spiI, inp.spiR, Uint8Array.of(1));
    const keys = deriveIkeSaKeys({ transforms: IKE_SUITES['aes256gcm16-prfsha256']!, ...inp });
    expect(toHex(keys.skeyseed)).toBe(toHex(skeyseed));
    expect(toHex(keys.skD)).toBe(toHex(t1));
    // With GCM, SK_ai and SK_ar are empty and SK_e carries the 4-octet salt (RFC 5282 §7.1).
    expect([keys.skAi.length, keys.skAr.length, keys.skEi.length, keys.skPi.length]).toEqual([0, 0, 36, 32]);
  });

  it('key lengths follow the transforms', () => {
    expect(ikeSaKeyLengths(IKE_SUITES['aes128-sha256-prfsha256']!)).toEqual({ prfKey: 32, integKey: 32, encKey: 16 });
    expect(ikeSaKeyLengths(IKE_SUITES['chacha20poly1305-prfsha384']!)).toEqual({ prfKey: 48, integKey: 0, encKey: 36 });
    expect(() => ikeSaKeyLengths({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128, prf: 5 })).toThrow(/integ/);
    expect(() => ikeSaKeyLengths({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.NONE, prf: 5 })).toThrow(/integ/);
    expect(() => ikeSaKeyLengths({ encr: ENCR.AES_CBC, encrKeyBits: 100, integ: 12, prf: 5 })).toThrow(/encrKeyBits/);
  });

  it('throws naming the argument on misuse', () => {
    const t = IKE_SUITES['aes256gcm16-prfsha256']!;
    expect(() => deriveIkeSaKeys({ transforms: t, ...inp, ni: new Uint8Array(8) })).toThrow(/input\.ni/);
    expect(() => deriveIkeSaKeys({ transforms: t, ...inp, spiR: new Uint8Array(4) })).toThrow(/input\.spiR/);
    expect(() => deriveIkeSaKeys({ transforms: t, ...inp, sharedSecret: new Uint8Array(0) })).toThrow(/input\.sharedSecret/);
    expect(() => deriveRekeyedIkeSaKeys({ transforms: t, ...inp, oldPrf: 5, oldSkD: new Uint8Array(48) })).toThrow(/input\.oldSkD/);
    expect(() => deriveChildSaKeys({ prf: 5, skD: new Uint8Array(32), ni: inp.ni, nr: inp.nr, transforms: { protocol: 'ah', integ: INTEG.NONE } })).toThrow(/integ/);
    expect(() => deriveChildSaKeys({ prf: 5, skD: new Uint8Array(20), ni: inp.ni, nr: inp.nr, transforms: CHILD_SUITES.aes128gcm16! })).toThrow(/input\.skD/);
  });

  test.prop(
    [
      fc.constantFrom(...Object.values(IKE_SUITES)),
      fc.uint8Array({ minLength: 16, maxLength: 256 }),
      fc.uint8Array({ minLength: 16, maxLength: 256 }),
      fc.uint8Array({ minLength: 1, maxLength: 256 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.constantFrom(...Object.values(CHILD_SUITES)),
    ],
    { numRuns: 100 },
  )('node and noble back ends derive identical IKE SA, rekey and Child SA keys', (transforms, ni, nr, sharedSecret, spiI, spiR, child) => {
    const [a, b] = BACKENDS.map((be) => {
      const keys = deriveIkeSaKeys({ transforms, ni, nr, sharedSecret, spiI, spiR }, be);
      const rekeyed = deriveRekeyedIkeSaKeys({ oldPrf: transforms.prf, oldSkD: keys.skD, transforms, ni: nr, nr: ni, sharedSecret, spiI: spiR, spiR: spiI }, be);
      const childKeys = deriveChildSaKeys({ prf: transforms.prf, skD: keys.skD, ni, nr, transforms: child }, be);
      return JSON.stringify([hexKeys({ ...keys }), hexKeys({ ...rekeyed }), hexKeys({ ...childKeys.initiatorToResponder }), hexKeys({ ...childKeys.responderToInitiator })]);
    });
    expect(b).toBe(a);
  });
});
