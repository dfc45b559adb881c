import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { emulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { encapsulatedLength } from '../../../adapters/nic/transmitPath.js';
import type { NicSaSpec } from '../../../adapters/nic/types.js';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import type { EspSaConfig } from '../../../engine/esp/espSa.js';
import { createEspSa } from '../../../engine/esp/espSa.js';
import { fixedIv, pooledRandomIv } from '../../../engine/esp/ivSource.js';
import { ALL_SUITES, innerPacket, keysFor, seededFill, V4_A, V4_B, V6_A, V6_B } from '../../engine/esp/fixtures.js';
import { loadVectors } from '../../vectors/load.js';

interface Case {
  suite: (typeof ALL_SUITES)[number];
  mode: 'tunnel' | 'transport';
  innerVersion: 4 | 6;
  outerVersion: 4 | 6;
  natT: boolean;
  esn: boolean;
  seed: number;
  payload: Uint8Array;
}

/** The engine's SA configuration for a case (both directions share it), and the lookup address. */
function configFor(c: Case): { config: Omit<EspSaConfig, 'id' | 'direction'>; dst: Uint8Array } {
  const outerV4 = c.mode === 'tunnel' ? c.outerVersion === 4 : c.innerVersion === 4;
  const config: Omit<EspSaConfig, 'id' | 'direction'> = {
    spi: 0x1000 + c.seed, suite: c.suite, keys: keysFor(c.suite, c.seed), mode: c.mode, esn: c.esn,
    ...(c.mode === 'tunnel' ? { tunnel: outerV4 ? { src: V4_A, dst: V4_B } : { src: V6_A, dst: V6_B } } : {}),
    ...(c.natT ? { natT: { srcPort: 4500, dstPort: 4500 } } : {}),
  };
  return { config, dst: outerV4 ? V4_B : V6_B };
}

/**
 * One case end to end: NIC A (node crypto) sends, the software engine (noble crypto, the same
 * deterministic IVs) must produce the same bytes, NIC B (noble) must open them, and software
 * decapsulation must accept the NIC's packet too.
 */
async function roundTrip(c: Case): Promise<void> {
  const { config, dst } = configFor(c);
  const a = emulatedNic({ name: 'a', mtu: 0xffff, backend: 'node', ivSource: pooledRandomIv(seededFill(c.seed + 1)) });
  const b = emulatedNic({ name: 'b', mtu: 0xffff, backend: 'noble' });
  const out: NicSaSpec = { ...config, id: 'out', direction: 'outbound', dst };
  const [tx] = await a.addSa([out]);
  const [rx] = await b.addSa([{ ...config, id: 'in', direction: 'inbound', dst }]);
  const inner = innerPacket(c.innerVersion, c.payload);

  const software = createEspSa({ ...config, id: 'sw', direction: 'outbound', backend: 'noble' });
  const expected = encapsulate(inner.slice(), software, pooledRandomIv(seededFill(c.seed + 1)));
  const predicted = encapsulatedLength(inner, software);
  const sent = a.transmit([{ handle: tx!.handle!, packet: inner }])[0]!;
  expect(sent.ok && expected.ok).toBe(true);
  if (!sent.ok || !expected.ok) return;
  expect(toHex(sent.packet)).toBe(toHex(expected.packet));
  expect(sent.packet.length).toBe(predicted);
  expect([sent.seqHi, sent.seqLo]).toEqual([0, 1]);

  const swIn = createEspSa({ ...config, id: 'swIn', direction: 'inbound', backend: 'node' });
  const decapsulated = decapsulate(sent.packet.slice(), () => swIn);
  expect(decapsulated.ok && toHex(decapsulated.packet)).toBe(toHex(inner));

  const [ind] = b.receive([sent.packet.slice()]);
  expect(ind).toMatchObject({ cryptoDone: true, nextCryptoDone: false, cryptoStatus: 'success', saDeleteRequest: false });
  if (!ind!.cryptoDone) return;
  const layer = ind!.layers[0]!;
  expect(layer).toMatchObject({ handle: rx!.handle, saId: 'in', spi: config.spi, seqHi: 0, seqLo: 1, status: 'success' });
  if (layer.status !== 'success') return;
  // Tunnel: the payload is the inner packet; transport: its upper layer, the header kept in front.
  const upper = inner.subarray(c.innerVersion === 4 ? 20 : 40);
  expect(toHex(layer.payload)).toBe(toHex(c.mode === 'tunnel' ? inner : upper));
  expect(layer.nextHeader).toBe(c.mode === 'tunnel' ? (c.innerVersion === 4 ? 4 : 41) : 17);
}

describe('emulated NIC crypto: byte-identical to the software engine, opened by the peer NIC', () => {
  it.each(ALL_SUITES.map((s) => [`${s.encr}/${s.encrKeyBits ?? '-'}/${s.integ}`, s] as const))('suite %s, tunnel IPv4', async (_name, suite) => {
    await roundTrip({ suite, mode: 'tunnel', innerVersion: 4, outerVersion: 4, natT: false, esn: false, seed: 7, payload: Uint8Array.from({ length: 77 }, (_, i) => i) });
  });

  test.prop(
    [
      fc.record({
        suite: fc.constantFrom(...ALL_SUITES),
        mode: fc.constantFrom('tunnel' as const, 'transport' as const),
        innerVersion: fc.constantFrom(4 as const, 6 as const),
        outerVersion: fc.constantFrom(4 as const, 6 as const),
        natT: fc.boolean(),
        esn: fc.boolean(),
        seed: fc.integer({ min: 0, max: 0xfff }),
        payload: fc.uint8Array({ minLength: 0, maxLength: 600 }),
      }),
    ],
    { numRuns: 120 },
  )('every suite, mode, address family, NAT-T and ESN', async (c) => {
    await roundTrip(c);
  });

  it('RFC 7634 Appendix A: the NIC sends the published ChaCha20-Poly1305 packet and opens it', async () => {
    const v = loadVectors('chacha20poly1305-esp-rfc7634.json').esp_example as Record<string, string>;
    const wire = fromHex(v.esp_ip_packet!);
    const seq = BigInt('0x' + v.seq!) - 1n;
    const common = {
      spi: parseInt(v.spi!, 16), mode: 'tunnel' as const, tunnel: { src: wire.subarray(12, 16), dst: wire.subarray(16, 20) },
      suite: { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, keys: { encKey: fromHex(v.keymat!) }, dst: wire.subarray(16, 20),
    };
    const a = emulatedNic({ name: 'a', ivSource: fixedIv(fromHex(v.iv!)) });
    const [tx] = await a.addSa([{ ...common, id: 'out', direction: 'outbound', sequenceStart: { hi: Number(seq >> 32n), lo: Number(seq & 0xffffffffn) } }]);
    const [sent] = a.transmit([{ handle: tx!.handle!, packet: fromHex(v.source_packet!) }]);
    expect(sent!.ok && toHex(sent!.packet.subarray(20))).toBe(toHex(wire.subarray(20)));
    const b = emulatedNic({ name: 'b' });
    await b.addSa([{ ...common, id: 'in', direction: 'inbound' }]);
    const [ind] = b.receive([wire.slice()]);
    expect(ind!.cryptoDone && ind!.cryptoStatus).toBe('success');
    const layer = ind!.cryptoDone ? ind!.layers[0]! : undefined;
    expect(layer?.status === 'success' && toHex(layer.payload)).toBe(v.source_packet);
  });
});
