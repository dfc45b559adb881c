import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fromHex } from '../../../engine/bytes.js';
import { DROP_REASONS } from '../../../engine/dropReasons.js';
import { NAT_T_PORT, NON_ESP_MARKER, classifyUdpEncap } from '../../../engine/packet/udpEncap.js';
import { rfc7634EspExample } from './vectors.js';

describe('classifyUdpEncap (RFC 3948 §2)', () => {
  it('uses port 4500 and a 4-octet non-ESP marker', () => {
    expect([NAT_T_PORT, NON_ESP_MARKER]).toEqual([4500, 4]);
  });

  it('a single 0xFF octet is a NAT-keepalive (§2.3)', () => {
    expect(classifyUdpEncap(Uint8Array.of(0xff))).toEqual({ kind: 'keepalive' });
  });

  it('four zero octets mark IKE; the IKE message is a view after them (§2.2)', () => {
    const ikeHeader = fromHex('c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7');
    const payload = new Uint8Array(4 + ikeHeader.length);
    payload.set(ikeHeader, 4);
    const c = classifyUdpEncap(payload);
    expect(c).toEqual({ kind: 'ike', ike: ikeHeader });
    if (c.kind === 'ike') expect([c.ike.buffer, c.ike.byteOffset]).toEqual([payload.buffer, 4]);
    expect(classifyUdpEncap(new Uint8Array(4))).toEqual({ kind: 'ike', ike: new Uint8Array(0) });
  });

  it('a non-zero SPI with a whole ESP header is ESP (§2.1): the RFC 7634 ESP packet', () => {
    const v = rfc7634EspExample();
    const esp = fromHex(v.esp_ip_packet).subarray(20);
    const c = classifyUdpEncap(esp);
    expect(c.kind).toBe('esp');
    if (c.kind === 'esp') expect(c.esp).toBe(esp);
    expect(classifyUdpEncap(fromHex('0000000100000000')).kind).toBe('esp');
  });

  it.each([
    ['empty', 'truncated', ''],
    ['one octet other than 0xFF', 'malformed', '00'],
    ['two octets', 'truncated', 'ffff'],
    ['three zero octets', 'truncated', '000000'],
    ['SPI without a sequence number', 'truncated', '01020304'],
    ['SPI and 3 octets', 'truncated', '01020304000000'],
  ])('%s → invalid (%s)', (_name, reason, hex) => {
    expect(classifyUdpEncap(fromHex(hex))).toEqual({ kind: 'invalid', reason });
  });

  test.prop([fc.uint8Array({ maxLength: 40 })])('classifies any bytes without throwing, by the rules', (bytes) => {
    const c = classifyUdpEncap(bytes);
    const markerIsZero = bytes.length >= 4 && bytes.subarray(0, 4).every((b) => b === 0);
    if (bytes.length === 1 && bytes[0] === 0xff) expect(c.kind).toBe('keepalive');
    else if (markerIsZero) expect(c.kind).toBe('ike');
    else if (bytes.length >= 8) expect(c.kind).toBe('esp');
    else expect(c.kind === 'invalid' && DROP_REASONS.includes(c.reason)).toBe(true);
  });
});
