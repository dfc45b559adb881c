import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { fixedIv } from '../../../engine/esp/ivSource.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { parseIpv4, writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { hex, loadVectors } from '../../vectors/load.js';

const BACKENDS = ['node', 'noble'] as const;
const gcm = loadVectors('gcm-esp-draft-mcgrew-gcm-test-01.json').vectors as any[];
const cbc = (loadVectors('aes-cbc-rfc3602.json').vectors as any[]).filter((v) => v.kind === 'esp-packet');
const chacha = loadVectors('chacha20poly1305-esp-rfc7634.json').esp_example;

const SRC = hex('c0a80101');
const DST = hex('c0a80102');

/** The 64-bit sequence number one below `seq` (hex), as the counter's resume point. */
function before(seq: string): { hi: number; lo: number } {
  const n = BigInt('0x' + seq) - 1n;
  return { hi: Number(n >> 32n), lo: Number(n & 0xffffffffn) };
}

/** An IPv4 packet with the given protocol around `payload` (the vectors carry no outer header). */
function ipv4(protocol: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  writeIpv4Header(p, 0, { totalLength: p.length, protocol, src: SRC, dst: DST, identification: 0x1234 });
  p.set(payload, 20);
  return p;
}

describe.each(BACKENDS)('whole ESP packets from published vectors, %s back end', (backend) => {
  // case04 uses SPI 0, which RFC 4303 §2.1 reserves ("MUST NOT be sent on the wire"): an SA
  // refuses it (tested below); the transform-level test covers its bytes.
  it.each(gcm.filter((v) => parseInt(v.spi, 16) >= 256).map((v) => [v.id, v]))('%s through encapsulate and decapsulate', (_id, v) => {
    const gmac = v.algorithm === 'AES-GMAC-ESP';
    const plaintext = gmac ? hex(v.aad).subarray(16) : hex(v.plaintext);
    const padLength = plaintext[plaintext.length - 2]!;
    const payload = plaintext.subarray(0, plaintext.length - 2 - padLength);
    const nextHeader = plaintext[plaintext.length - 1]!;
    const common: Omit<EspSaConfig, 'direction' | 'id'> = {
      spi: parseInt(v.spi, 16),
      mode: 'transport',
      esn: v.esn,
      backend,
      suite: { encr: gmac ? ENCR.NULL_AUTH_AES_GMAC : ENCR.AES_GCM_16, encrKeyBits: v.key_bits, integ: INTEG.NONE },
      keys: { encKey: hex(v.key + v.salt) },
    };
    const seq = before(v.seq);
    const out = createEspSa({ ...common, id: 'out', direction: 'outbound', sequenceStart: seq });
    const r = encapsulate(ipv4(nextHeader, payload), out, fixedIv(hex(v.iv)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(toHex(r.packet.subarray(20))).toBe(v.packet);
    const outer = parseIpv4(r.packet);
    expect(outer.ok && outer.header.protocol).toBe(IPPROTO.ESP);

    // Receive the published packet with a window whose top sits just below it.
    const inn = createEspSa({ ...common, id: 'in', direction: 'inbound', replayState: { topHi: seq.hi, topLo: seq.lo, bitmap: [seq.hi || seq.lo ? 1 : 0, 0, 0, 0] } });
    const rx = decapsulate(ipv4(IPPROTO.ESP, hex(v.packet)), () => inn);
    expect(rx.ok).toBe(true);
    if (!rx.ok) return;
    expect(rx.nextHeader).toBe(nextHeader);
    expect(toHex(rx.packet)).toBe(toHex(ipv4(nextHeader, payload)));
    // The same packet again is a replay.
    const again = decapsulate(ipv4(IPPROTO.ESP, hex(v.packet)), () => inn);
    expect(again.ok ? 'ok' : again.reason).toBe('replayed');
  });

  it.each(cbc.map((v) => [v.id, v]))('%s (RFC 3602) through encapsulate, with an HMAC-SHA1-96 ICV', (_id, v) => {
    const integKey = hex('0102030405060708090a0b0c0d0e0f1011121314');
    const tunnel = v.mode === 'tunnel';
    const outerHeader = hex(v.outer_ip_header);
    const common: Omit<EspSaConfig, 'direction' | 'id'> = {
      spi: parseInt(v.spi, 16),
      mode: tunnel ? 'tunnel' : 'transport',
      ...(tunnel ? { tunnel: { src: outerHeader.subarray(12, 16), dst: outerHeader.subarray(16, 20) } } : {}),
      backend,
      suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 },
      keys: { encKey: hex(v.key), integKey },
    };
    const inner = hex(v.original_ip_header + v.original_data);
    const out = createEspSa({ ...common, id: 'out', direction: 'outbound', sequenceStart: before(v.seq) });
    const r = encapsulate(inner, out, fixedIv(hex(v.iv)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const esp = r.packet.subarray(20);
    expect(toHex(esp.subarray(0, esp.length - 12))).toBe(v.esp_packet);
    expect(toHex(esp.subarray(esp.length - 12))).toBe(toHex(createHmac('sha1', integKey).update(hex(v.esp_packet)).digest().subarray(0, 12)));
    // Outer header: same addresses and protocol as the vector's; length grows by the ICV.
    const ours = parseIpv4(r.packet);
    const theirs = parseIpv4(hex(v.ip_packet));
    expect(ours.ok && theirs.ok).toBe(true);
    if (!ours.ok || !theirs.ok) return;
    expect([toHex(ours.header.src), toHex(ours.header.dst), ours.header.protocol]).toEqual([toHex(theirs.header.src), toHex(theirs.header.dst), 50]);
    expect(ours.header.totalLength).toBe(theirs.header.totalLength + 12);

    const inn = createEspSa({ ...common, id: 'in', direction: 'inbound' });
    const rx = decapsulate(r.packet, () => inn);
    expect(rx.ok && toHex(rx.packet)).toBe(toHex(inner));
  });

  it('refuses the reserved SPI 0 of draft-mcgrew case 4 at SA creation', () => {
    const v = gcm.find((x) => x.id.endsWith('case04'));
    expect(() =>
      createEspSa({ id: 'x', direction: 'outbound', spi: parseInt(v.spi, 16), mode: 'transport', backend, suite: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, keys: { encKey: hex(v.key + v.salt) } }),
    ).toThrow(/^spi: /);
  });

  it('RFC 7634 Appendix A: tunnel-mode ChaCha20-Poly1305 packet', () => {
    const wire = hex(chacha.esp_ip_packet);
    const common: Omit<EspSaConfig, 'direction' | 'id'> = {
      spi: parseInt(chacha.spi, 16),
      mode: 'tunnel',
      tunnel: { src: wire.subarray(12, 16), dst: wire.subarray(16, 20) },
      backend,
      suite: { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE },
      keys: { encKey: hex(chacha.keymat) },
    };
    const out = createEspSa({ ...common, id: 'out', direction: 'outbound', sequenceStart: before(chacha.seq) });
    const r = encapsulate(hex(chacha.source_packet), out, fixedIv(hex(chacha.iv)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(toHex(r.packet.subarray(20))).toBe(toHex(wire.subarray(20)));
    expect(toHex(r.packet.subarray(12, 20))).toBe(toHex(wire.subarray(12, 20)));
    const inn = createEspSa({ ...common, id: 'in', direction: 'inbound' });
    const rx = decapsulate(wire.slice(), () => inn);
    expect(rx.ok && toHex(rx.packet)).toBe(chacha.source_packet);
  });
});
