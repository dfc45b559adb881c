import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { ALL_SUITES, innerPacket, saPair, seededFill } from './fixtures.js';

// Lengths around every padding boundary (blocks of 4 and 16) and the ends of the range.
const LENGTHS = [0, 1, 2, 3, 13, 14, 15, 16, 17, 255, 1500];

describe('every suite × mode × inner and outer IP version × NAT-T × ESN round-trips, both back ends', () => {
  for (const suite of ALL_SUITES) {
    const label = createEspSa({ id: 'x', direction: 'outbound', spi: 256, mode: 'transport', suite, keys: saPair({ suite, backend: 'node', mode: 'transport', outerVersion: 4, natT: false, esn: false, seed: 0 }).out.config.keys }).transform.name;
    it(label, () => {
      let n = 0;
      for (const backend of ['node', 'noble'] as const)
        for (const mode of ['tunnel', 'transport'] as const)
          for (const innerVersion of [4, 6] as const)
            for (const outerVersion of mode === 'tunnel' ? ([4, 6] as const) : [innerVersion])
              for (const [natT, esn] of [[false, false], [true, true]] as const) {
                const { out, in: inn } = saPair({ suite, backend, mode, outerVersion, natT, esn, seed: n });
                const ivs = standardIvSource(seededFill(n + 1));
                for (const length of LENGTHS) {
                  if (backend === 'noble' && length > 255 && n % 3 !== 0) continue; // keep noble's share quick
                  const inner = innerPacket(innerVersion, Uint8Array.from({ length }, (_, i) => i * 7));
                  const sealed = encapsulate(inner, out, ivs);
                  if (!sealed.ok) throw new Error(`${backend} ${mode} v${innerVersion}/v${outerVersion} len ${length}: ${sealed.reason}`);
                  const opened = decapsulate(sealed.packet, () => inn);
                  expect(opened.ok ? toHex(opened.packet) : opened.reason, `${backend} ${mode} v${innerVersion}/v${outerVersion} natT=${natT} len ${length}`).toBe(toHex(inner));
                }
                n++;
              }
    });
  }
});

describe('SA misuse throws a RangeError naming the argument', () => {
  const base: EspSaConfig = {
    id: 'sa-1',
    direction: 'inbound',
    spi: 0x1000,
    mode: 'tunnel',
    tunnel: { src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2) },
    suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 },
    keys: { encKey: new Uint8Array(16), integKey: new Uint8Array(32) },
  };
  it.each([
    ['a 15-byte AES key', { keys: { encKey: new Uint8Array(15), integKey: new Uint8Array(32) } }, /^encKey: must be 16 bytes/],
    ['window 5000', { replayWindow: 5000 }, /^size: /],
    ['window 5', { replayWindow: 5 }, /^size: /],
    ['ESN with the window off', { replayWindow: 0, esn: true }, /^esn: /],
    ['SPI 255 (IANA reserved)', { spi: 255 }, /^spi: /],
    ['tunnel mode without endpoints', { tunnel: undefined }, /^tunnel: /],
    ['mixed address families', { tunnel: { src: new Uint8Array(4), dst: new Uint8Array(16) } }, /^tunnel: /],
    ['NAT-T port 0', { natT: { srcPort: 0, dstPort: 4500 } }, /^natT: /],
    ['TTL 0', { ttl: 0 }, /^ttl: /],
    ['ESP without integrity', { suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.NONE } }, /^integ: /],
  ] as const)('%s', (_label, change, message) => {
    expect(() => createEspSa({ ...base, ...change } as EspSaConfig)).toThrow(RangeError);
    expect(() => createEspSa({ ...base, ...change } as EspSaConfig)).toThrow(message);
  });
  it('window 0 without ESN is allowed when asked for, and then checks nothing', () => {
    const sa = createEspSa({ ...base, replayWindow: 0 });
    expect(sa.replay!.size).toBe(0);
  });
  it('encapsulate on an inbound SA is misuse: a TypeError naming sa', () => {
    expect(() => encapsulate(innerPacket(4, new Uint8Array(8)), createEspSa(base), standardIvSource(seededFill(1)))).toThrow(/^sa: /);
  });
});
