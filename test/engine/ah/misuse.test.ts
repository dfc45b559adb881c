import { describe, expect, it } from 'vitest';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import { createAhSa, type AhSaConfig } from '../../../engine/ah/ahSa.js';
import { INTEG } from '../../../engine/crypto/transformIds.js';
import { V4_GW_A, V6_GW_B, innerPacket, keyFor } from './fixtures.js';

const base: AhSaConfig = { id: 'sa-x', direction: 'inbound', spi: 0x1234, integ: INTEG.HMAC_SHA1_96, key: keyFor(INTEG.HMAC_SHA1_96, 1), mode: 'transport' };

/** The RangeError's message, which must start with the argument's name. */
function misuse(patch: Partial<AhSaConfig>): string {
  try {
    createAhSa({ ...base, ...patch });
  } catch (e) {
    expect(e).toBeInstanceOf(RangeError);
    return (e as Error).message;
  }
  return 'no error';
}

describe('createAhSa misuse: RangeError naming the argument', () => {
  it.each<[string, Partial<AhSaConfig>, string]>([
    ['a 15-byte HMAC-SHA1 key', { key: new Uint8Array(15) }, 'key:'],
    ['a 16-byte HMAC-SHA2-256 key', { integ: INTEG.HMAC_SHA2_256_128, key: new Uint8Array(16) }, 'key:'],
    ['SPI 5 (reserved, RFC 4302 §2.4)', { spi: 5 }, 'spi:'],
    ['SPI 2^32', { spi: 2 ** 32 }, 'spi:'],
    ['a fractional SPI', { spi: 300.5 }, 'spi:'],
    ['window 5000', { replayWindow: 5000 }, 'replayWindow:'],
    ['window 16', { replayWindow: 16 }, 'replayWindow:'],
    ['ESN without a window', { replayWindow: 0, esn: true }, 'esn:'],
    ['no integrity (INTEG.NONE)', { integ: INTEG.NONE }, 'integ:'],
    ['an unknown transform', { integ: 99 as never }, 'integ:'],
    ['tunnel mode without endpoints', { mode: 'tunnel' }, 'tunnel:'],
    ['mixed tunnel address families', { mode: 'tunnel', tunnel: { src: V4_GW_A, dst: V6_GW_B } }, 'tunnel:'],
    ['a bogus mode', { mode: 'bogus' as never }, 'mode:'],
    ['TTL 0', { ttl: 0 }, 'ttl:'],
    ['IPv4 alignment 2', { ipv4Align: 2 as never }, 'ipv4Align:'],
    ['a bad direction', { direction: 'sideways' as never }, 'direction:'],
  ])('%s', (_name, patch, prefix) => {
    expect(misuse(patch).startsWith(prefix)).toBe(true);
  });

  it('a key that is not bytes is a TypeError naming key', () => {
    expect(() => createAhSa({ ...base, key: 'secret' as never })).toThrow(new TypeError('key: must be a Uint8Array'));
  });

  it('a bad replay state names state', () => {
    expect(() => createAhSa({ ...base, replayState: { topHi: 0, topLo: 3, bitmap: [1] } })).toThrow(/^state:/);
  });

  it('ahEncapsulate on an inbound SA is a TypeError naming sa', () => {
    expect(() => ahEncapsulate(innerPacket(4, new Uint8Array(4)), createAhSa(base))).toThrow(/^sa: /);
  });

  it('a valid SA exposes protocol 51, id and spi like EspSa', () => {
    const sa = createAhSa(base);
    expect([sa.protocol, sa.id, sa.spi, sa.integrity.icvLength]).toEqual([51, 'sa-x', 0x1234, 12]);
  });
});
