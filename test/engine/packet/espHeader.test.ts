import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import {
  ESP_HEADER,
  espPadLength,
  parseEspTrailer,
  readEspSeq,
  readEspSpi,
  writeEspTrailer,
} from '../../../engine/packet/espHeader.js';
import { rfc3602EspCases, rfc7634EspExample } from './vectors.js';

describe('ESP header and trailer known answers', () => {
  for (const v of rfc3602EspCases()) {
    const payload = fromHex(v.payload_before_trailer);

    it(`${v.id}: SPI and sequence number`, () => {
      const esp = fromHex(v.esp_packet);
      expect(readEspSpi(esp), v.id).toBe(parseInt(v.spi, 16));
      expect(readEspSeq(esp), v.id).toBe(parseInt(v.seq, 16));
    });

    it(`${v.id}: AES-CBC (16-octet blocks) pads to the published trailer`, () => {
      expect(espPadLength(payload.length, 16), v.id).toBe(v.pad_length);
      const out = new Uint8Array(fromHex(v.pre_encryption).length);
      out.set(payload);
      const end = writeEspTrailer(out, payload.length, v.pad_length, v.next_header);
      expect(end, v.id).toBe(out.length);
      expect(toHex(out), v.id).toBe(v.pre_encryption);
    });

    it(`${v.id}: the decrypted data's trailer parses`, () => {
      expect(parseEspTrailer(fromHex(v.pre_encryption)), v.id).toEqual({
        ok: true,
        payloadLength: payload.length,
        padLength: v.pad_length,
        nextHeader: v.next_header,
      });
    });
  }

  it('rfc7634 Appendix A: ChaCha20-Poly1305 (no block) pads 84 octets with 01 02, next header 4', () => {
    const v = rfc7634EspExample();
    const inner = fromHex(v.source_packet);
    expect(espPadLength(inner.length, 1)).toBe(2);
    expect(parseEspTrailer(fromHex(v.plaintext))).toEqual({
      ok: true,
      payloadLength: inner.length,
      padLength: 2,
      nextHeader: 4,
    });
    const out = new Uint8Array(inner.length + 4);
    out.set(inner);
    writeEspTrailer(out, inner.length, 2, 4);
    expect(toHex(out)).toBe(v.plaintext);
    const esp = fromHex(v.esp_ip_packet).subarray(20);
    expect([readEspSpi(esp), readEspSeq(esp)]).toEqual([0x01020304, 5]);
  });

  it('reads SPI and sequence number as unsigned 32-bit values', () => {
    const esp = fromHex('ffffffff80000000');
    expect([readEspSpi(esp), readEspSeq(esp)]).toEqual([0xffffffff, 0x80000000]);
    expect(ESP_HEADER).toBe(8);
  });
});

describe('espPadLength', () => {
  test.prop([fc.integer({ min: 0, max: 70000 }), fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128, 256)])(
    'gives the least padding that aligns to max(padAlign, 4) (RFC 4303 §2.4)',
    (payloadLength, padAlign) => {
      const pad = espPadLength(payloadLength, padAlign);
      const align = Math.max(padAlign, 4);
      expect((payloadLength + pad + 2) % align).toBe(0);
      expect(pad).toBeGreaterThanOrEqual(0);
      expect(pad).toBeLessThan(align);
    },
  );

  it('throws a RangeError naming the argument on misuse', () => {
    expect(() => espPadLength(-1, 16)).toThrow(/payloadLength/);
    expect(() => espPadLength(10, 0)).toThrow(/padAlign/);
    expect(() => espPadLength(10, 12)).toThrow(/padAlign/);
    expect(() => espPadLength(10, 512)).toThrow(/padAlign/);
  });
});

describe('parseEspTrailer', () => {
  test.prop([fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })])(
    'writeEspTrailer → parseEspTrailer round trip',
    (payload, padLength, nextHeader) => {
      const plain = new Uint8Array(payload.length + padLength + 2);
      plain.set(payload);
      expect(writeEspTrailer(plain, payload.length, padLength, nextHeader)).toBe(plain.length);
      expect(parseEspTrailer(plain)).toEqual({ ok: true, payloadLength: payload.length, padLength, nextHeader });
    },
  );

  const octet = fc.integer({ min: 1, max: 255 });
  test.prop([fc.uint8Array({ maxLength: 40 }), octet, fc.nat(), octet])(
    'any changed padding octet → badPadding (RFC 4303 §2.4: the receiver SHOULD inspect)',
    (payload, padLength, which, delta) => {
      const plain = new Uint8Array(payload.length + padLength + 2);
      plain.set(payload);
      writeEspTrailer(plain, payload.length, padLength, 4);
      plain[payload.length + (which % padLength)]! += delta;
      expect(parseEspTrailer(plain)).toEqual({ ok: false, reason: 'badPadding' });
    },
  );

  it.each([
    ['empty', 'truncated', ''],
    ['one octet', 'truncated', '04'],
    ['Pad Length past the start', 'badPadding', '010203'],
    ['Pad Length 1 with nothing to pad', 'badPadding', '0104'],
    ['padding 01 03', 'badPadding', 'aa010302' + '04'],
    ['padding starting at 0', 'badPadding', '00010204'],
  ])('%s → %s', (_name, reason, hex) => {
    expect(parseEspTrailer(fromHex(hex))).toEqual({ ok: false, reason });
  });

  it('accepts Pad Length 0, an empty payload, and payload octets that look like padding', () => {
    expect(parseEspTrailer(fromHex('003b'))).toEqual({ ok: true, payloadLength: 0, padLength: 0, nextHeader: 59 });
    // payload 01 02 | padding 01 02 | Pad Length 2 | Next Header 4
    expect(parseEspTrailer(fromHex('0102' + '0102' + '02' + '04'))).toEqual({
      ok: true,
      payloadLength: 2,
      padLength: 2,
      nextHeader: 4,
    });
  });

  it('writeEspTrailer throws a RangeError naming the argument on misuse', () => {
    const out = new Uint8Array(10);
    expect(() => writeEspTrailer(out, 0, 256, 4)).toThrow(/padLength/);
    expect(() => writeEspTrailer(out, 0, 2, 300)).toThrow(/nextHeader/);
    expect(() => writeEspTrailer(out, 7, 2, 4)).toThrow(/offset/);
    expect(() => writeEspTrailer(out, -1, 0, 4)).toThrow(/offset/);
  });
});
