/**
 * The IKEv2 codec: header (RFC 7296 §3.1), every payload body (§3.3-§3.16, RFC 7383 §2.5) and
 * whole messages with Next Payload chaining and the critical bit (§2.5, §3.2). Properties:
 * decode(encode(x)) = x for every payload kind and for messages; encode(decode(b)) = b.
 */

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import {
  decodeIkeHeader,
  decodeIkeMessage,
  decodePayloadBody,
  decodePayloadChain,
  encodeIkeHeader,
  encodeIkeMessage,
  encodePayloadBody,
  encodePayloadChain,
  IKE_EXCHANGE,
  IKE_PAYLOAD,
  NOTIFY_TYPE,
  notifyForDecodeFailure,
  notifyTypeName,
  isNotifyError,
  payloadTypeOf,
  transformKeyLength,
  type IkeHeader,
  type IkeMessage,
  type IkePayload,
} from '../../../engine/ike/index.js';
import { ARB_CLEAR_PAYLOADS, ARB_ENCRYPTED_PAYLOADS, arbHeader, arbMessage } from './arbitraries.js';

const header: IkeHeader = {
  spiI: fromHex('0011223344556677'),
  spiR: new Uint8Array(8),
  minorVersion: 0,
  exchangeType: IKE_EXCHANGE.IKE_SA_INIT,
  initiator: true,
  response: false,
  messageId: 0,
};
const nonce: IkePayload = { type: 'Nonce', data: new Uint8Array(32).fill(7) };

describe('IKE header (RFC 7296 §3.1)', () => {
  test.prop([arbHeader, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 28, max: 0xffffffff })])('decode(encode(h)) = h', (h, next, length) => {
    const bytes = encodeIkeHeader(h, next, length);
    expect(bytes).toHaveLength(28);
    const r = decodeIkeHeader(bytes);
    expect(r.ok && [r.header, r.nextPayload, r.length]).toEqual([h, next, length]);
  });

  it('lays out SPIs, version 2.0, flags I and R, Message ID and Length as §3.1 draws them', () => {
    const bytes = encodeIkeHeader({ ...header, response: true, messageId: 0x01020304 }, 33, 0x1c);
    expect(toHex(bytes)).toBe('0011223344556677' + '0000000000000000' + '21' + '20' + '22' + '28' + '01020304' + '0000001c');
  });

  it('refuses another major version with the header attached, ignores minor version, V and X bits', () => {
    const bytes = encodeIkeHeader(header, 0, 28);
    bytes[17] = 0x30;
    const r = decodeIkeHeader(bytes);
    expect(r).toMatchObject({ ok: false, reason: 'invalidMajorVersion', at: 17, header: { messageId: 0 } });
    bytes[17] = 0x2f;
    bytes[19] = 0xff; // every flag: R, V, I and the X bits
    const q = decodeIkeHeader(bytes);
    expect(q.ok && q.header).toMatchObject({ minorVersion: 15, initiator: true, response: true });
    expect(decodeIkeHeader(bytes.subarray(0, 27))).toMatchObject({ ok: false, reason: 'truncated', at: 0 });
  });

  it('throws naming the field on misuse', () => {
    expect(() => encodeIkeHeader({ ...header, spiI: new Uint8Array(4) }, 0, 28)).toThrow(/header\.spiI.*8 octets/);
    expect(() => encodeIkeHeader({ ...header, messageId: -1 }, 0, 28)).toThrow(RangeError);
    expect(() => encodeIkeHeader({ ...header, initiator: 1 as unknown as boolean }, 0, 28)).toThrow(TypeError);
    expect(() => encodeIkeHeader(header, 0, 27)).toThrow(/length/);
  });
});

describe('payload bodies: decode(encode(p)) = p for every kind', () => {
  for (const [kind, arb] of Object.entries({ ...ARB_CLEAR_PAYLOADS, ...ARB_ENCRYPTED_PAYLOADS })) {
    test.prop([arb], { numRuns: 150 })(kind, (p) => {
      const body = encodePayloadBody(p, 'p');
      const next = p.type === 'SK' || p.type === 'SKF' ? p.firstPayload : 0;
      const critical = p.type === 'unknown' && p.critical;
      const r = decodePayloadBody(payloadTypeOf(p), next, critical, body, 0);
      expect(r.ok ? r.payload : r).toEqual(p);
      if (r.ok) expect(toHex(encodePayloadBody(r.payload, 'p'))).toBe(toHex(body));
    });
  }
});

describe('payload bodies: what the RFC refuses', () => {
  const bad = (type: number, hex: string, next = 0) => decodePayloadBody(type, next, false, fromHex(hex), 100);
  it('SA (§3.3): lengths and counts must agree', () => {
    const good = encodePayloadBody({ type: 'SA', proposals: [{ number: 1, protocol: 3, spi: fromHex('01020304'), transforms: [{ type: 1, id: 20, attributes: [{ type: 14, value: 128 }] }] }] }, 'sa');
    expect(toHex(good)).toBe('00000018' + '01030401' + '01020304' + '0000000c' + '01000014' + '800e0080');
    const t = '0000000c01000014800e0080';
    expect(bad(33, '')).toMatchObject({ reason: 'malformed', at: 100 });
    expect(bad(33, '02000018' + '01030401' + '01020304' + t)).toMatchObject({ reason: 'malformed', at: 100, detail: expect.stringMatching(/Last Substruc/) });
    expect(bad(33, '00000030' + '01030401' + '01020304' + t)).toMatchObject({ reason: 'truncated', at: 102 });
    expect(bad(33, '00000018' + '01030402' + '01020304' + t)).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/transform 1 of 2 has Last Substruc 0/) });
    expect(bad(33, '00000018' + '01030402' + '01020304' + '03' + t.slice(2))).toMatchObject({ reason: 'truncated', at: 124, detail: expect.stringMatching(/transform 2 of 2/) });
    expect(bad(33, '00000018' + '01030501' + '01020304' + t)).toMatchObject({ reason: 'malformed', at: 106, detail: expect.stringMatching(/SPI Size 5/) });
    expect(bad(33, '00000018' + '01030400' + '01020304' + t)).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/no transforms/) });
    expect(bad(33, '0000001c' + '01030401' + '01020304' + '00000010' + '01000014' + '800e0080' + '800e0100')).toMatchObject({ reason: 'malformed', at: 124, detail: expect.stringMatching(/repeated/) });
    expect(bad(33, '0000001a' + '01030401' + '01020304' + '0000000e' + '01000014' + '000e0002' + '0080')).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/TLV/) });
    expect(bad(33, '0000001a' + '01030401' + '01020304' + t + 'abcd')).toMatchObject({ reason: 'malformed', at: 124, detail: expect.stringMatching(/after the last transform/) });
  });
  it('Nonce (§3.9) is 16 to 256 octets; Delete (§3.11) SPI sizes; TS (§3.13) counts and lengths', () => {
    expect(bad(40, '00'.repeat(15))).toMatchObject({ reason: 'malformed' });
    expect(bad(40, '00'.repeat(257))).toMatchObject({ reason: 'malformed' });
    expect(bad(42, '01000000').ok).toBe(true);
    expect(bad(42, '01040001aabbccdd')).toMatchObject({ reason: 'malformed' });
    expect(bad(42, '03040002aabbccdd')).toMatchObject({ reason: 'truncated' });
    expect(bad(42, '03080001aabbccddeeff0011')).toMatchObject({ reason: 'malformed' });
    expect(bad(42, '04040000')).toMatchObject({ reason: 'malformed' });
    expect(bad(44, '00000000')).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/Number of TSs 0/) });
    expect(bad(44, '01000000070000110000ffffc0000201c00002ff')).toMatchObject({ reason: 'malformed', detail: expect.stringMatching(/Selector Length 17/) });
    expect(bad(44, '02000000070000100000ffffc0000201c00002ff')).toMatchObject({ reason: 'truncated' });
    const ts = bad(44, '01000000070600100000ffffc0000201c00002ff');
    expect(ts.ok && ts.payload).toMatchObject({ type: 'TSi', selectors: [{ tsType: 7, ipProtocol: 6, startPort: 0, endPort: 65535 }] });
  });
  it('Notify SPI within the payload; SKF numbering (RFC 7383 §2.5); CP attributes within the payload', () => {
    expect(bad(41, '0304')).toMatchObject({ reason: 'truncated' });
    expect(bad(41, '03044009aabbcc')).toMatchObject({ reason: 'truncated' });
    expect(bad(53, '00020001', 0)).toMatchObject({ reason: 'malformed' });
    expect(bad(53, '00000001')).toMatchObject({ reason: 'malformed' });
    expect(bad(53, '00020002', 41)).toMatchObject({ reason: 'malformed', at: 96 });
    expect(bad(47, '010000000001000401020304').ok).toBe(true);
    expect(bad(47, '01000000000100050102030400')).toMatchObject({ ok: true });
    expect(bad(47, '01000000000100060102030400')).toMatchObject({ ok: false, reason: 'truncated', at: 106 });
  });
  it('throws naming the field on misuse', () => {
    expect(() => encodePayloadBody({ type: 'Nonce', data: new Uint8Array(8) }, 'payloads[2]')).toThrow(/payloads\[2\]\.data.*16 to 256/);
    expect(() => encodePayloadBody({ type: 'SA', proposals: [] }, 'sa')).toThrow(/sa\.proposals/);
    expect(() =>
      encodePayloadBody({ type: 'SA', proposals: [{ number: 1, protocol: 3, spi: new Uint8Array(8), transforms: [{ type: 1, id: 12, attributes: [] }] }] }, 'sa'),
    ).toThrow(/sa\.proposals\[0\]\.spi/);
    expect(() => encodePayloadBody({ type: 'SA', proposals: [{ number: 1, protocol: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, attributes: [{ type: 14, value: 1 }, { type: 14, value: 2 }] }] }] }, 'sa')).toThrow(/attributes\[1\]\.type.*repeated/);
    expect(() => encodePayloadBody({ type: 'D', protocol: 3, spis: [new Uint8Array(8)] }, 'd')).toThrow(/d\.spis\[0\]/);
    expect(() => encodePayloadBody({ type: 'D', protocol: 1, spis: [new Uint8Array(4)] }, 'd')).toThrow(/d\.spis/);
    expect(() => encodePayloadBody({ type: 'TSi', selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: new Uint8Array(16), endAddress: new Uint8Array(4) }] }, 'ts')).toThrow(/ts\.selectors\[0\]\.startAddress/);
    expect(() => encodePayloadBody({ type: 'unknown', payloadType: 40, critical: false, body: new Uint8Array(0) }, 'u')).toThrow(/u\.payloadType/);
    expect(() => encodePayloadBody({ type: 'KE', group: 70000, data: new Uint8Array(0) }, 'ke')).toThrow(/ke\.group/);
    expect(() => encodePayloadBody({ type: 'N', protocol: 0, spi: 'x' as unknown as Uint8Array, notifyType: 1, data: new Uint8Array(0) }, 'n')).toThrow(TypeError);
  });
  it('reads the Key Length attribute', () => {
    expect(transformKeyLength({ type: 1, id: 12, attributes: [{ type: 14, value: 256 }] })).toBe(256);
    expect(transformKeyLength({ type: 2, id: 5, attributes: [] })).toBeUndefined();
  });
});

describe('whole messages (§3.1, §3.2)', () => {
  test.prop([arbMessage], { numRuns: 400 })('decode(encode(m)) = m and encode(decode(b)) = b', (m) => {
    const bytes = encodeIkeMessage(m);
    const r = decodeIkeMessage(bytes);
    expect(r.ok ? r.message : r).toEqual(m);
    if (r.ok) expect(toHex(encodeIkeMessage(r.message))).toBe(toHex(bytes));
  });

  it('chains Next Payload: the header names the first payload, each payload the next, the last 0', () => {
    const m: IkeMessage = { header, payloads: [nonce, { type: 'V', data: fromHex('abcd') }] };
    const bytes = encodeIkeMessage(m);
    expect(bytes[16]).toBe(IKE_PAYLOAD.NONCE);
    expect(toHex(bytes.subarray(28, 32))).toBe('2b000024');
    expect(toHex(bytes.subarray(64))).toBe('00000006abcd');
    expect(toHex(bytes.subarray(24, 28))).toBe((bytes.length).toString(16).padStart(8, '0'));
    expect(encodeIkeMessage({ header, payloads: [] })).toHaveLength(28);
  });

  it('an SK payload is last, its Next Payload naming the first inner payload (§3.14)', () => {
    const m: IkeMessage = { header, payloads: [nonce, { type: 'SK', firstPayload: IKE_PAYLOAD.IDi, body: fromHex('0102') }] };
    const bytes = encodeIkeMessage(m);
    expect(toHex(bytes.subarray(bytes.length - 6))).toBe('230000060102');
    expect(() => encodeIkeMessage({ header, payloads: [m.payloads[1]!, nonce] })).toThrow(/payloads\[0\].*last/);
    const trailing = new Uint8Array([...bytes, ...encodePayloadChain([nonce], 'x', { response: false, insideSk: false }).bytes]);
    trailing.set(fromHex((trailing.length).toString(16).padStart(8, '0')), 24);
    expect(decodeIkeMessage(trailing)).toMatchObject({ ok: false, reason: 'malformed', detail: expect.stringMatching(/after the Encrypted payload/) });
    expect(decodePayloadChain(bytes, IKE_PAYLOAD.NONCE, 28, bytes.length, { insideSk: true })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('critical bit (§2.5): an unknown critical payload refuses the message, a non-critical one is skipped and kept', () => {
    const unknown = (critical: boolean): IkePayload => ({ type: 'unknown', payloadType: 200, critical, body: fromHex('beef') });
    const skipped = decodeIkeMessage(encodeIkeMessage({ header, payloads: [unknown(false), nonce] }));
    expect(skipped.ok && skipped.message.payloads.map((p) => p.type)).toEqual(['unknown', 'Nonce']);
    const refused = decodeIkeMessage(encodeIkeMessage({ header, payloads: [nonce, unknown(true)] }));
    expect(refused).toMatchObject({ ok: false, reason: 'unsupportedCriticalPayload', payloadType: 200, at: 64, header: { messageId: 0 } });
    if (!refused.ok) expect(notifyForDecodeFailure(refused)).toEqual({ notifyType: NOTIFY_TYPE.UNSUPPORTED_CRITICAL_PAYLOAD, data: Uint8Array.of(200) });
    // §3.2: the C bit "MUST be ignored by the recipient if the recipient understands the payload type".
    const bytes = encodeIkeMessage({ header, payloads: [nonce] });
    bytes[29] = 0x80;
    expect(decodeIkeMessage(bytes).ok).toBe(true);
    // §2.5: "Payloads sent in IKE response messages MUST NOT have the critical flag set."
    expect(() => encodeIkeMessage({ header: { ...header, response: true }, payloads: [unknown(true)] })).toThrow(/critical/);
  });

  it('refuses a Length that disagrees with the datagram, and chains that overrun or stop short', () => {
    const bytes = encodeIkeMessage({ header, payloads: [nonce] });
    expect(decodeIkeMessage(bytes.subarray(0, bytes.length - 1))).toMatchObject({ ok: false, reason: 'truncated', at: 24 });
    expect(decodeIkeMessage(new Uint8Array([...bytes, 0]))).toMatchObject({ ok: false, reason: 'malformed', at: bytes.length });
    const shortLen = bytes.slice();
    shortLen[27] = 20;
    expect(decodeIkeMessage(shortLen.subarray(0, 28))).toMatchObject({ ok: false, reason: 'malformed', at: 24 });
    const badNext = bytes.slice();
    badNext[28] = IKE_PAYLOAD.NOTIFY; // the Nonce claims a payload follows
    expect(decodeIkeMessage(badNext)).toMatchObject({ ok: false, reason: 'truncated' });
    const zeroLen = bytes.slice();
    zeroLen[31] = 2;
    zeroLen[30] = 0;
    expect(decodeIkeMessage(zeroLen)).toMatchObject({ ok: false, reason: 'malformed', at: 30 });
    expect(notifyForDecodeFailure({ ok: false, reason: 'malformed', at: 0, detail: '' })?.notifyType).toBe(NOTIFY_TYPE.INVALID_SYNTAX);
    expect(notifyForDecodeFailure({ ok: false, reason: 'authFailed', at: 0, detail: '' })).toBeUndefined();
  });

  it('decodes the RFC 7634 Appendix B message and re-encodes it byte for byte', async () => {
    const { loadVectors } = await import('../../vectors/load.js');
    const v = loadVectors('chacha20poly1305-esp-rfc7634.json').ikev2_example;
    const r = decodeIkeMessage(fromHex(v.ike_message));
    expect(r.ok && r.message.header).toMatchObject({ exchangeType: IKE_EXCHANGE.INFORMATIONAL, messageId: 9, initiator: false, response: false });
    expect(r.ok && r.message.payloads).toEqual([{ type: 'SK', firstPayload: IKE_PAYLOAD.NOTIFY, body: fromHex(v.encrypted_payload).subarray(4) }]);
    if (r.ok) expect(toHex(encodeIkeMessage(r.message))).toBe(v.ike_message);
  });

  it('names Notify types and tells errors from status types (§3.10.1)', () => {
    expect(notifyTypeName(NOTIFY_TYPE.IKEV2_FRAGMENTATION_SUPPORTED)).toBe('IKEV2_FRAGMENTATION_SUPPORTED');
    expect(notifyTypeName(9999)).toBe('NOTIFY(9999)');
    expect([isNotifyError(NOTIFY_TYPE.TS_UNACCEPTABLE), isNotifyError(NOTIFY_TYPE.COOKIE)]).toEqual([true, false]);
    expect([NOTIFY_TYPE.NAT_DETECTION_SOURCE_IP, NOTIFY_TYPE.REKEY_SA, NOTIFY_TYPE.INVALID_KE_PAYLOAD, NOTIFY_TYPE.TEMPORARY_FAILURE]).toEqual([16388, 16393, 17, 43]);
  });
});
