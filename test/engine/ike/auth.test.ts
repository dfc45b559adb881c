/**
 * PSK authentication (RFC 7296 §2.15) and NAT detection (§2.23). The IKE_SA_INIT request, the
 * signed octets, the AUTH value and the NAT-D hashes come from gen-ike-python.py, which builds
 * the message by hand from §3.1-§3.9 and computes with Python hmac/hashlib.
 */

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import {
  createPrf,
  decodeIkeMessage,
  detectNat,
  encodeIkeMessage,
  natDetectionHash,
  natDetectionNotifies,
  NOTIFY_TYPE,
  pskAuth,
  restOfIdPayload,
  signedOctets,
  verifyPskAuth,
} from '../../../engine/ike/index.js';
import { loadVectors } from '../../vectors/load.js';

const BACKENDS = ['node', 'noble'] as const;
const py = loadVectors('ike/ike-python.json');
const v = py.pskAuth;

describe.each(BACKENDS)('PSK AUTH, %s back end', (backend) => {
  const prf = createPrf(v.prf, backend);
  const id = { idType: v.idType, data: fromHex(v.idData) };

  it('python: the signed octets are RealMessage1 | NonceRData | prf(SK_pi, IDType | RESERVED | IDData)', () => {
    const octets = signedOctets({ realMessage: fromHex(v.realMessage), peerNonce: fromHex(v.peerNonce), prf, skP: fromHex(v.skP), id });
    expect(toHex(octets)).toBe(v.signedOctets);
  });

  it('python: AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>), verified in constant time', () => {
    const auth = pskAuth(prf, fromHex(v.psk), fromHex(v.signedOctets));
    expect(toHex(auth)).toBe(v.auth);
    expect(verifyPskAuth(prf, fromHex(v.psk), fromHex(v.signedOctets), fromHex(v.auth))).toBe(true);
    const wrong = fromHex(v.auth);
    wrong[0]! ^= 1;
    expect(verifyPskAuth(prf, fromHex(v.psk), fromHex(v.signedOctets), wrong)).toBe(false);
    const otherPsk = fromHex(v.psk);
    otherPsk[5]! ^= 0x20;
    expect(verifyPskAuth(prf, otherPsk, fromHex(v.signedOctets), fromHex(v.auth))).toBe(false);
    // HMAC pads a short key with zeros (RFC 2104 §2), so a PSK and the PSK with a NUL appended
    // are one key: §2.15's "MUST NOT add a null terminator" changes the result only for keys of
    // a hash block or more.
    expect(verifyPskAuth(prf, fromHex(v.psk + '00'), fromHex(v.signedOctets), fromHex(v.auth))).toBe(true);
    expect(verifyPskAuth(prf, fromHex(v.psk), fromHex(v.signedOctets), fromHex(v.auth).subarray(1))).toBe(false);
  });
});

describe('PSK AUTH', () => {
  it("python's hand-built IKE_SA_INIT request decodes and re-encodes byte for byte", () => {
    const r = decodeIkeMessage(fromHex(v.realMessage));
    expect(r.ok && r.message.payloads.map((p) => p.type)).toEqual(['SA', 'KE', 'Nonce']);
    expect(r.ok && r.message.payloads[0]).toMatchObject({ proposals: [{ number: 1, protocol: 1, transforms: [{ type: 1, id: 20, attributes: [{ type: 14, value: 256 }] }, { type: 2, id: 5 }, { type: 4, id: 31 }] }] });
    if (r.ok) expect(toHex(encodeIkeMessage(r.message))).toBe(v.realMessage);
  });

  it('refuses a real message with the non-ESP marker left on, or cut short (§2.15: RealIKEHDR starts at SPIi)', () => {
    const prf = createPrf(5);
    const input = { realMessage: fromHex('00000000' + v.realMessage), peerNonce: fromHex(v.peerNonce), prf, skP: fromHex(v.skP), id: { idType: 2, data: new Uint8Array(1) } };
    expect(() => signedOctets(input)).toThrow(/input\.realMessage/);
    expect(() => signedOctets({ ...input, realMessage: fromHex(v.realMessage).subarray(0, 40) })).toThrow(/input\.realMessage/);
    expect(() => signedOctets({ ...input, realMessage: fromHex(v.realMessage), skP: new Uint8Array(20) })).toThrow(/input\.skP/);
    expect(() => signedOctets({ ...input, realMessage: fromHex(v.realMessage), peerNonce: new Uint8Array(8) })).toThrow(/input\.peerNonce/);
    expect(() => pskAuth(prf, new Uint8Array(0), new Uint8Array(1))).toThrow(/sharedSecret/);
    expect(toHex(restOfIdPayload({ idType: 1, data: fromHex('c0000201') }))).toBe('01000000c0000201');
  });

  test.prop([fc.constantFrom(2, 5, 6, 7), fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.uint8Array({ minLength: 1, maxLength: 300 })], { numRuns: 100 })(
    'node and noble back ends give the same AUTH',
    (id, psk, octets) => {
      const [a, b] = BACKENDS.map((be) => toHex(pskAuth(createPrf(id, be), psk, octets)));
      expect(b).toBe(a);
    },
  );
});

describe.each(BACKENDS)('NAT detection (§2.23), %s back end', (backend) => {
  it.each((py.natd as any[]).map((n: any, i: number) => [i, n] as [number, any]))('python/natd-%s: SHA-1(SPIi | SPIr | IP | port)', (_i, n) => {
    const h = natDetectionHash({ spiI: fromHex(n.spiI), spiR: fromHex(n.spiR) }, { address: fromHex(n.address), port: n.port }, backend);
    expect(toHex(h)).toBe(n.hash);
  });

  it('tells which side is behind a NAT from the packet that carried the notifications', () => {
    const spis = { spiI: fromHex('0011223344556677'), spiR: new Uint8Array(8) };
    const peer = { address: fromHex('c0000201'), port: 500 };
    const me = { address: fromHex('c6336407'), port: 500 };
    const sent = natDetectionNotifies(spis, peer, me, backend);
    expect(sent.map((p) => p.notifyType)).toEqual([NOTIFY_TYPE.NAT_DETECTION_SOURCE_IP, NOTIFY_TYPE.NAT_DETECTION_DESTINATION_IP]);
    expect(detectNat(spis, sent, peer, me, backend)).toEqual({ supported: true, peerBehindNat: false, selfBehindNat: false });
    // A NAT rewrote the source (address and port): the sender is behind it.
    expect(detectNat(spis, sent, { address: fromHex('cb007105'), port: 31000 }, me, backend)).toEqual({ supported: true, peerBehindNat: true, selfBehindNat: false });
    // The packet reached us at another address than the sender used: we are behind a NAT.
    expect(detectNat(spis, sent, peer, { address: fromHex('0a000001'), port: 500 }, backend)).toEqual({ supported: true, peerBehindNat: false, selfBehindNat: true });
    // Several SOURCE_IP notifications: a NAT only if none matches.
    const other = natDetectionNotifies(spis, { address: fromHex('c0000299'), port: 500 }, me, backend)[0];
    expect(detectNat(spis, [other, ...sent], peer, me, backend).peerBehindNat).toBe(false);
    expect(detectNat(spis, [sent[1]], peer, me, backend)).toEqual({ supported: false, peerBehindNat: false, selfBehindNat: false });
  });

  it('throws naming the argument on misuse', () => {
    const spis = { spiI: new Uint8Array(8), spiR: new Uint8Array(8) };
    expect(() => natDetectionHash(spis, { address: new Uint8Array(5), port: 1 }, backend)).toThrow(/endpoint\.address/);
    expect(() => natDetectionHash(spis, { address: new Uint8Array(4), port: 70000 }, backend)).toThrow(/endpoint\.port/);
    expect(() => natDetectionHash({ ...spis, spiR: new Uint8Array(0) }, { address: new Uint8Array(4), port: 1 }, backend)).toThrow(/spis\.spiR/);
  });
});
