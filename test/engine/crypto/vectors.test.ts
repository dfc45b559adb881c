import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { backendNamed } from '../../../engine/crypto/backends.js';
import { createEspTransform } from '../../../engine/crypto/espTransform.js';
import { createIntegrity } from '../../../engine/crypto/integrity.js';
import { nativeCryptoStatus } from '../../../engine/crypto/nativeBackend.js';
import { INTEG_SPECS } from '../../../engine/crypto/suites.js';
import { ENCR, INTEG, type IntegId } from '../../../engine/crypto/transformIds.js';
import { hex, loadVectors } from '../../vectors/load.js';

// The native back end too when its addon is built (native.vectors.test.ts adds its batch calls).
const BACKENDS = ['node', 'noble', ...(nativeCryptoStatus().available ? (['native'] as const) : [])] as const;
const gcm = loadVectors('gcm-esp-draft-mcgrew-gcm-test-01.json').vectors as any[];
const cbc = loadVectors('aes-cbc-rfc3602.json').vectors as any[];
const ctr = loadVectors('aes-ctr-rfc3686.json').vectors as any[];
const chacha = loadVectors('chacha20poly1305-esp-rfc7634.json');
const sha2 = loadVectors('hmac-sha2-rfc4868.json').vectors as any[];
const legacy = loadVectors('hmac-md5-sha1-rfc2202.json').vectors as any[];

/** ESN: the vector's 64-bit seq gives Seq_hi for the AAD; only Seq_lo is on the wire. */
const seqHiOf = (v: { seq: string; esn: boolean }) => (v.esn ? parseInt(v.seq.slice(0, 8), 16) : undefined);

describe.each(BACKENDS)('ESP transforms on published vectors, %s back end', (backend) => {
  it.each(gcm.map((v) => [v.id, v]))('%s seals and opens byte for byte', (_id, v) => {
    const gmac = v.algorithm === 'AES-GMAC-ESP';
    const t = createEspTransform(
      { encr: gmac ? ENCR.NULL_AUTH_AES_GMAC : ENCR.AES_GCM_16, encrKeyBits: v.key_bits, integ: INTEG.NONE },
      { encKey: hex(v.key + v.salt) },
      backend,
    );
    expect(t.backend).toBe(backend); // native: the transform in C, not a fallback
    const packet = hex(v.packet);
    // Build the unsealed packet: header and IV as on the wire, plaintext, room for the ICV.
    const esp = new Uint8Array(packet.length);
    esp.set(packet.subarray(0, 16), 0);
    const plain = gmac ? hex(v.aad).subarray(16) : hex(v.plaintext);
    esp.set(plain, 16);
    t.seal(esp, seqHiOf(v));
    expect(toHex(esp)).toBe(v.packet);
    const rx = packet.slice();
    expect(t.open(rx, seqHiOf(v))).toBe(true);
    expect(toHex(rx.subarray(16, rx.length - 16))).toBe(toHex(plain));
    // A flipped bit or a wrong Seq_hi (ESN) fails and leaves the packet as it came.
    rx.set(packet);
    rx[rx.length - 1]! ^= 1;
    const before = toHex(rx);
    expect(t.open(rx, seqHiOf(v))).toBe(false);
    expect(toHex(rx)).toBe(before);
    if (v.esn) {
      const again = packet.slice();
      expect(t.open(again, (seqHiOf(v)! + 1) >>> 0)).toBe(false);
      expect(toHex(again)).toBe(v.packet);
    }
    // The batch calls give the same bytes.
    const batch = [esp.slice(), packet.slice()];
    batch[0]!.set(packet.subarray(0, 16), 0);
    batch[0]!.set(plain, 16);
    batch[0]!.fill(0, 16 + plain.length);
    const his = v.esn ? Uint32Array.of(seqHiOf(v)!, seqHiOf(v)!) : undefined;
    t.sealBatch(batch, 1, his);
    expect(toHex(batch[0]!)).toBe(v.packet);
    const ok = new Uint8Array(2);
    t.openBatch(batch, 2, his, ok);
    expect([...ok]).toEqual([1, 1]);
    expect(toHex(batch[1]!.subarray(16, packet.length - 16))).toBe(toHex(plain));
    t.dispose();
  });

  it('RFC 7634 Appendix A: ChaCha20-Poly1305 ESP payload', () => {
    const e = chacha.esp_example;
    const t = createEspTransform({ encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, { encKey: hex(e.keymat) }, backend);
    expect(t.backend).toBe(backend); // native: the transform in C, not a fallback
    const pt = hex(e.plaintext);
    const esp = new Uint8Array(16 + pt.length + 16);
    esp.set(hex(e.spi + e.seq + e.iv), 0);
    esp.set(pt, 16);
    t.seal(esp, undefined);
    expect(toHex(esp.subarray(16))).toBe(e.ciphertext + e.tag);
    expect(t.open(esp, undefined)).toBe(true);
    expect(toHex(esp.subarray(16, 16 + pt.length))).toBe(e.plaintext);
  });

  it.each(cbc.filter((v) => v.kind === 'cipher').map((v) => [v.id, v]))('%s: raw AES-CBC', (_id, v) => {
    const c = backendNamed(backend).rawCipher('aes-cbc', hex(v.key));
    const out = new Uint8Array(v.plaintext.length / 2);
    c.encrypt(hex(v.iv), hex(v.plaintext), out);
    expect(toHex(out)).toBe(v.ciphertext);
    c.decrypt(hex(v.iv), out, out);
    expect(toHex(out)).toBe(v.plaintext);
  });

  it.each(cbc.filter((v) => v.kind === 'esp-packet').map((v) => [v.id, v]))(
    '%s: AES-CBC ESP framing, with an HMAC-SHA1-96 ICV checked by an independent HMAC',
    (_id, v) => {
      // RFC 3602 cases 5-8 carry no ICV; this framework refuses ESP without integrity, so the
      // packet is sealed with HMAC-SHA1-96 and the ciphertext must match the vector exactly.
      const integKey = hex('0102030405060708090a0b0c0d0e0f1011121314');
      const t = createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 }, { encKey: hex(v.key), integKey }, backend);
      expect(t.backend).toBe(backend);
      const wire = hex(v.esp_packet);
      const esp = new Uint8Array(wire.length + 12);
      esp.set(wire.subarray(0, 24), 0);
      esp.set(hex(v.pre_encryption), 24);
      t.seal(esp, undefined);
      expect(toHex(esp.subarray(0, wire.length))).toBe(v.esp_packet);
      const icv = createHmac('sha1', integKey).update(wire).digest().subarray(0, 12);
      expect(toHex(esp.subarray(wire.length))).toBe(toHex(icv));
      expect(t.open(esp, undefined)).toBe(true);
      expect(toHex(esp.subarray(24, wire.length))).toBe(v.pre_encryption);
    },
  );

  it.each(ctr.map((v) => [v.id, v]))('%s: AES-CTR counter-block layout', (_id, v) => {
    const c = backendNamed(backend).rawCipher('aes-ctr', hex(v.key));
    const out = new Uint8Array(v.plaintext.length / 2);
    c.encrypt(hex(v.counter_blocks[0]), hex(v.plaintext), out);
    expect(toHex(out)).toBe(v.ciphertext);
    // Through the ESP transform: KEYMAT = key ‖ nonce, IV from the packet, counter from 1.
    const integKey = new Uint8Array(32);
    const t = createEspTransform({ encr: ENCR.AES_CTR, encrKeyBits: v.key_bits, integ: INTEG.HMAC_SHA2_256_128 }, { encKey: hex(v.keymat), integKey }, backend);
    expect(t.backend).toBe(backend);
    const pt = hex(v.plaintext);
    const esp = new Uint8Array(16 + pt.length + 16);
    esp.set(hex(v.iv), 8);
    esp.set(pt, 16);
    t.seal(esp, undefined);
    expect(toHex(esp.subarray(16, 16 + pt.length))).toBe(v.ciphertext);
    // The ICV by an independent HMAC over ESP header ‖ IV ‖ ciphertext (RFC 4868 truncation to 128 bits).
    const icv = createHmac('sha256', integKey).update(esp.subarray(0, 16 + pt.length)).digest().subarray(0, 16);
    expect(toHex(esp.subarray(16 + pt.length))).toBe(toHex(icv));
  });

  it.each([...sha2, ...legacy].map((v) => [v.id, v]))('%s: HMAC and its ESP truncation', (_id, v) => {
    expect(toHex(backendNamed(backend).mac(v.hash, hex(v.key)).compute([hex(v.data)]))).toBe(v.full_mac);
    const entry = Object.entries(INTEG_SPECS).find(([, s]) => s.hash === v.hash);
    const [id, spec] = entry!;
    if (spec.keyLength !== v.key_len) return; // ESP keys have one fixed size per algorithm
    const integ = createIntegrity(Number(id) as IntegId, hex(v.key), backend);
    const out = new Uint8Array(integ.icvLength);
    integ.computeInto([hex(v.data)], out, 0);
    expect(toHex(out)).toBe(v.full_mac.slice(0, 2 * spec.icvLength));
    if (v.truncated_mac) expect(toHex(out)).toBe(v.truncated_mac);
    expect(integ.verify([hex(v.data)], out)).toBe(true);
    out[0]! ^= 0x80;
    expect(integ.verify([hex(v.data)], out)).toBe(false);
  });
});

describe('ESP transform misuse', () => {
  it('refuses ESP with neither integrity nor a combined mode', () => {
    expect(() => createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(16) })).toThrow(/integ: ESP without integrity/);
    expect(() => createEspTransform({ encr: ENCR.NULL, integ: INTEG.NONE }, { encKey: new Uint8Array(0) })).toThrow(RangeError);
  });
  it('names the argument for a wrong key size', () => {
    expect(() => createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, { encKey: new Uint8Array(15) })).toThrow(/^encKey: must be 20 bytes/);
    expect(() => createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 100, integ: INTEG.HMAC_SHA1_96 }, { encKey: new Uint8Array(16) })).toThrow(/^encrKeyBits/);
    expect(() => createEspTransform({ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 }, { encKey: new Uint8Array(16), integKey: new Uint8Array(19) })).toThrow(/^integKey: must be 20 bytes/);
    expect(() => createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 }, { encKey: new Uint8Array(20) })).toThrow(/^integ: must be NONE/);
    expect(() => createEspTransform({ encr: 99 as 12, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 }, { encKey: new Uint8Array(16) })).toThrow(/^encr: /);
  });
});
