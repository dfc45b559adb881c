/**
 * The Encrypted payload (RFC 7296 §3.14, RFC 5282, RFC 7634): the RFC 7634 Appendix B message
 * byte for byte, AES-CBC + HMAC-SHA2-256-128 and AES-GCM-16 messages built and sealed by Python
 * (gen-ike-python.py), round trips for every suite and back end, node and noble identical, any
 * flipped bit refused as `authFailed`.
 */

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import {
  createSkCipher,
  decodePayloadChain,
  encodePayloadChain,
  IKE_PAYLOAD,
  NOTIFY_TYPE,
  notifyForDecodeFailure,
  protectIkeMessage,
  unprotectIkeMessage,
  type IkeHeader,
  type SkKeys,
  type SkTransforms,
} from '../../../engine/ike/index.js';
import { loadVectors } from '../../vectors/load.js';
import { arbHeader, arbInnerPayloads } from './arbitraries.js';

const BACKENDS = ['node', 'noble'] as const;
const rfc7634 = loadVectors('chacha20poly1305-esp-rfc7634.json');
const py = loadVectors('ike/ike-python.json');

const SUITES: Array<{ name: string; t: SkTransforms; keys: SkKeys; iv: number }> = [
  { name: 'aes128-sha256', t: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, keys: { encKey: new Uint8Array(16).fill(1), integKey: new Uint8Array(32).fill(2) }, iv: 16 },
  { name: 'aes256-sha512', t: { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_512_256 }, keys: { encKey: new Uint8Array(32).fill(3), integKey: new Uint8Array(64).fill(4) }, iv: 16 },
  { name: 'aes128gcm16', t: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(20).fill(5) }, iv: 8 },
  { name: 'aes256gcm16', t: { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(36).fill(6) }, iv: 8 },
  { name: 'chacha20poly1305', t: { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(36).fill(7) }, iv: 8 },
];

const headerOf = (v: { exchangeType: number; initiator: boolean; response: boolean; messageId: number }): IkeHeader => ({
  spiI: fromHex(py.inputs.spiI),
  spiR: fromHex(py.inputs.spiR),
  minorVersion: 0,
  exchangeType: v.exchangeType,
  initiator: v.initiator,
  response: v.response,
  messageId: v.messageId,
});

describe.each(BACKENDS)('SK payload, %s back end', (backend) => {
  it('rfc7634/B: the INFORMATIONAL request with Notify(SET_WINDOW_SIZE = 10), sealed and opened byte for byte', () => {
    const v = rfc7634.ikev2_example;
    const cipher = createSkCipher({ encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, { encKey: fromHex(rfc7634.esp_example.keymat) }, backend);
    const header: IkeHeader = { spiI: fromHex(v.ispi), spiR: fromHex(v.rspi), minorVersion: 0, exchangeType: 37, initiator: false, response: false, messageId: v.message_id };
    const notify = { type: 'N' as const, protocol: 0, spi: new Uint8Array(0), notifyType: NOTIFY_TYPE.SET_WINDOW_SIZE, data: fromHex('0000000a') };
    const bytes = protectIkeMessage({ header, payloads: [notify], iv: fromHex(rfc7634.esp_example.iv) }, cipher);
    expect(toHex(bytes)).toBe(v.ike_message);
    expect(toHex(bytes.subarray(0, 32))).toBe(v.aad); // RFC 5282 §5.1: header through the SK payload header
    const r = unprotectIkeMessage(fromHex(v.ike_message), cipher);
    expect(r.ok && r.message.payloads).toEqual([notify]);
  });

  it.each((py.sk as any[]).map((v: any) => [v.suite, v] as [string, any]))('python/%s: Python-sealed IKE_AUTH-style message, sealed and opened byte for byte', (_s, v) => {
    const cipher = createSkCipher({ encr: v.encr, encrKeyBits: v.encrKeyBits, integ: v.integ }, { encKey: fromHex(v.encKey), ...(v.integKey ? { integKey: fromHex(v.integKey) } : {}) }, backend);
    const inner = decodePayloadChain(fromHex(v.inner), IKE_PAYLOAD.IDi, 0, v.inner.length / 2, { insideSk: true });
    expect(inner.ok).toBe(true);
    if (!inner.ok) return;
    const bytes = protectIkeMessage({ header: headerOf(v), payloads: inner.payloads, iv: fromHex(v.iv) }, cipher);
    expect(toHex(bytes)).toBe(v.message);
    const r = unprotectIkeMessage(fromHex(v.message), cipher);
    expect(r.ok && toHex(encodePayloadChain(r.message.payloads, 'p', { response: false, insideSk: true }).bytes)).toBe(v.inner);
    expect(r.ok && r.message.header).toEqual(headerOf(v));
  });

  for (const s of SUITES) {
    test.prop([arbHeader, arbInnerPayloads, fc.uint8Array({ minLength: s.iv, maxLength: s.iv })], { numRuns: 60 })(
      `${s.name}: unprotect(protect(m)) = m; any flipped bit is authFailed`,
      (header, payloads, iv) => {
        const cipher = createSkCipher(s.t, s.keys, backend);
        const bytes = protectIkeMessage({ header, payloads, iv }, cipher);
        const r = unprotectIkeMessage(bytes, cipher);
        expect(r.ok ? [r.message.header, r.message.payloads, r.clearPayloads] : r).toEqual([header, payloads, []]);
        const bit = (iv[0]! * 131 + payloads.length * 17) % (bytes.length * 8);
        const flipped = bytes.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const f = unprotectIkeMessage(flipped, cipher);
        expect(f.ok).toBe(false);
      },
    );
  }
});

describe('SK payload', () => {
  for (const s of SUITES) {
    test.prop([arbHeader, arbInnerPayloads, fc.uint8Array({ minLength: s.iv, maxLength: s.iv })], { numRuns: 40 })(
      `${s.name}: node and noble back ends produce byte-identical messages`,
      (header, payloads, iv) => {
        const [a, b] = BACKENDS.map((be) => toHex(protectIkeMessage({ header, payloads, iv }, createSkCipher(s.t, s.keys, be))));
        expect(b).toBe(a);
      },
    );
  }

  it('every bit of a protected message is covered: each single flip is refused, never thrown', () => {
    for (const s of SUITES) {
      const cipher = createSkCipher(s.t, s.keys);
      const header = headerOf({ exchangeType: 35, initiator: true, response: false, messageId: 1 });
      const bytes = protectIkeMessage({ header, payloads: [{ type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType: 16384, data: new Uint8Array(0) }], iv: new Uint8Array(s.iv) }, cipher);
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const b = bytes.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        expect(unprotectIkeMessage(b, cipher).ok).toBe(false);
      }
    }
  });

  it('pads CBC to the block with the minimum (§3.14), AEADs not at all (RFC 5282 §3); takes an explicit pad length', () => {
    const header = headerOf({ exchangeType: 37, initiator: true, response: false, messageId: 2 });
    const payloads = [{ type: 'N' as const, protocol: 0, spi: new Uint8Array(0), notifyType: 16384, data: new Uint8Array(0) }];
    const cbc = createSkCipher(SUITES[0]!.t, SUITES[0]!.keys);
    // 28 header + 4 SK header + 16 IV + 16 (8 Notify + 7 padding + 1 Pad Length) + 16 ICV
    expect(protectIkeMessage({ header, payloads, iv: new Uint8Array(16) }, cbc)).toHaveLength(80);
    const padded = protectIkeMessage({ header, payloads, iv: new Uint8Array(16), padLength: 23 }, cbc);
    expect(padded).toHaveLength(96);
    expect(unprotectIkeMessage(padded, cbc).ok).toBe(true);
    expect(() => protectIkeMessage({ header, payloads, iv: new Uint8Array(16), padLength: 8 }, cbc)).toThrow(/input\.padLength/);
    const gcm = createSkCipher(SUITES[2]!.t, SUITES[2]!.keys);
    // 28 + 4 + 8 IV + 9 (8 Notify + Pad Length 0) + 16 tag
    expect(protectIkeMessage({ header, payloads, iv: new Uint8Array(8) }, gcm)).toHaveLength(65);
    expect(() => protectIkeMessage({ header, payloads, iv: new Uint8Array(16) }, gcm)).toThrow(/input\.iv.*8 octets/);
  });

  it('refuses what cannot be verified as authFailed, and flags failures found after the ICV verified', () => {
    const s = SUITES[2]!;
    const cipher = createSkCipher(s.t, s.keys);
    const header = headerOf({ exchangeType: 37, initiator: true, response: false, messageId: 3 });
    const clear = protectIkeMessage({ header, payloads: [], iv: new Uint8Array(8) }, cipher);
    expect(unprotectIkeMessage(clear.subarray(0, 28), cipher)).toMatchObject({ ok: false });
    const noSk = new Uint8Array(28);
    noSk.set(clear.subarray(0, 28));
    noSk[16] = 0;
    noSk[27] = 28;
    expect(unprotectIkeMessage(noSk, cipher)).toMatchObject({ ok: false, reason: 'authFailed', detail: 'no Encrypted payload' });
    // Re-seal a same-length plaintext whose inner chain is broken: found after the ICV verified.
    const good = protectIkeMessage({ header, payloads: [{ type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType: 16384, data: new Uint8Array(0) }], iv: new Uint8Array(8) }, cipher);
    const reseal = (plaintextHex: string) => {
      const b = good.slice();
      b.set(cipher.seal(b.subarray(0, 32), fromHex(plaintextHex), new Uint8Array(8)), 32);
      return b;
    };
    expect(unprotectIkeMessage(reseal('0000000800004000' + '00'), cipher).ok).toBe(true);
    // The Notify says another payload (41) follows, and none does: at = 28 + 4 + 8 (IV) + 8.
    const r = unprotectIkeMessage(reseal('2900000800004000' + '00'), cipher);
    expect(r).toMatchObject({ ok: false, reason: 'truncated', authenticated: true, at: 48 });
    if (!r.ok) expect(notifyForDecodeFailure(r)?.notifyType).toBe(NOTIFY_TYPE.INVALID_SYNTAX);
    expect(unprotectIkeMessage(reseal('0000000800004000' + 'ff'), cipher)).toMatchObject({ ok: false, reason: 'badPadding', authenticated: true });
  });

  it('throws naming the argument for unsupported transforms and wrong keys', () => {
    expect(() => createSkCipher({ encr: ENCR.AES_CTR, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, { encKey: new Uint8Array(20), integKey: new Uint8Array(32) })).toThrow(/transforms\.encr/);
    expect(() => createSkCipher({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, { encKey: new Uint8Array(20) })).toThrow(/transforms\.integ/);
    expect(() => createSkCipher({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(16) })).toThrow(/transforms\.integ/);
    expect(() => createSkCipher({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, { encKey: new Uint8Array(16) })).toThrow(/keys\.integKey/);
    expect(() => createSkCipher({ encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE }, { encKey: new Uint8Array(32) })).toThrow(/keys\.encKey.*36 octets/);
  });
});
