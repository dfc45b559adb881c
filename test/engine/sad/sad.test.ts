import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createAhSa } from '../../../engine/ah/ahSa.js';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import { openBundle } from '../../../engine/bundle/bundle.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa, type EspSaConfig } from '../../../engine/esp/espSa.js';
import { sequenceIv } from '../../../engine/esp/ivSource.js';
import { lifetimeVerdict } from '../../../engine/sad/lifetime.js';
import { Sad } from '../../../engine/sad/sad.js';
import type { IpsecProtocolName, SadEntry } from '../../../engine/sad/types.js';
import { innerPacket, V4_A, V4_B } from '../esp/fixtures.js';

const LIFETIMES = { soft: {}, hard: {} };
const esp = (spi: number, direction: 'inbound' | 'outbound', extra: Partial<EspSaConfig> = {}) =>
  createEspSa({ id: `esp-${spi}-${direction}`, direction, spi, mode: 'tunnel', tunnel: { src: V4_A, dst: V4_B }, suite: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(20).fill(spi & 0xff) }, ...extra });

function entry(id: string, spi: number, o: Partial<SadEntry> = {}): SadEntry {
  return { id, spi, protocol: 'esp', direction: 'inbound', dst: V4_B, sa: undefined, lifetimes: LIFETIMES, addedAtMs: 0, policyId: undefined, statefulFragmentCheck: false, pathMtu: undefined, ...o };
}

describe('SAD', () => {
  it('finds inbound SAs by (SPI, destination, protocol) and decapsulates through espLookup', () => {
    const sad = new Sad();
    const out = esp(0x1001, 'outbound');
    const inn = esp(0x1001, 'inbound');
    sad.add(entry('sa-in', 0x1001, { sa: inn }));
    sad.add(entry('sa-out', 0x1001, { direction: 'outbound', dst: V4_B, sa: out, policyId: 'p1' }));
    expect(sad.findInbound(0x1001, V4_B, 'esp')?.id).toBe('sa-in');
    expect(sad.findInbound(0x1001, V4_A, 'esp')).toBeUndefined(); // other destination
    expect(sad.findInbound(0x1001, V4_B, 'ah')).toBeUndefined(); // other protocol
    const inner = innerPacket(4, new Uint8Array(30));
    const sealed = encapsulate(inner, sad.outboundFor('p1')!.sa as typeof out, sequenceIv);
    if (!sealed.ok) throw new Error(sealed.reason);
    const opened = decapsulate(sealed.packet, sad.espLookup);
    expect(opened.ok).toBe(true);
    expect(sad.remove('sa-in')).toBe(true);
    const drops = new DropCounters();
    expect(decapsulate(sealed.packet, sad.espLookup, drops).ok).toBe(false);
    expect(drops.global.unknownSpi).toBe(1);
  });

  it('serves AH through bundleLookup', () => {
    const sad = new Sad();
    const cfg = { spi: 0x2002, mode: 'transport' as const, integ: INTEG.HMAC_SHA1_96, key: new Uint8Array(20).fill(3) };
    const out = createAhSa({ ...cfg, id: 'ah-out', direction: 'outbound' });
    sad.add(entry('ah-in', 0x2002, { protocol: 'ah', sa: createAhSa({ ...cfg, id: 'ah-in', direction: 'inbound' }) }));
    const sealed = ahEncapsulate(innerPacket(4, new Uint8Array(12)), out);
    if (!sealed.ok) throw new Error(sealed.reason);
    const opened = openBundle(sealed.packet, sad.bundleLookup);
    expect(opened.ok && opened.sas.map((s) => s.id)).toEqual(['ah-in']);
  });

  it('refuses duplicates and mismatched data-path SAs', () => {
    const sad = new Sad();
    sad.add(entry('a', 0x3000));
    expect(() => sad.add(entry('a', 0x3001))).toThrow(/already in the SAD/);
    expect(() => sad.add(entry('b', 0x3000))).toThrow(/already live/);
    expect(() => sad.add(entry('c', 0x3002, { sa: esp(0x3003, 'inbound') }))).toThrow(/^sa: SPI and direction/);
    expect(() => sad.add(entry('d', 0x3004, { protocol: 'ah', sa: esp(0x3004, 'inbound') }))).toThrow(/^sa: is not an AH SA/);
    expect(() => sad.add(entry('e', 255))).toThrow(/^spi: /);
  });

  it('replace is all or nothing; a larval entry becomes mature', () => {
    const sad = new Sad();
    sad.add(entry('larval', 0x4000));
    sad.add(entry('other', 0x4001));
    expect(() => sad.replace(entry('larval', 0x4001))).toThrow(/already live/);
    expect(sad.get('larval')?.spi).toBe(0x4000);
    sad.replace(entry('larval', 0x4000, { sa: esp(0x4000, 'inbound') }));
    expect(sad.findInbound(0x4000, V4_B, 'esp')?.sa).toBeDefined();
  });

  it('outbound: the newest SA of a policy is the one to send on (make-before-break)', () => {
    const sad = new Sad();
    sad.add(entry('old', 0x5000, { direction: 'outbound', sa: esp(0x5000, 'outbound'), policyId: 'p' }));
    sad.add(entry('new', 0x5001, { direction: 'outbound', sa: esp(0x5001, 'outbound'), policyId: 'p' }));
    expect(sad.outboundFor('p')?.id).toBe('new');
    sad.remove('new');
    expect(sad.outboundFor('p')?.id).toBe('old');
    expect(sad.outboundFor('nope')).toBeUndefined();
  });

  test.prop([fc.array(fc.tuple(fc.constantFrom('add', 'remove'), fc.integer({ min: 256, max: 300 }), fc.constantFrom<IpsecProtocolName>('esp', 'ah'), fc.boolean()), { maxLength: 200 })])(
    'lookups agree with a linear list model under random adds and removes',
    (ops) => {
      const sad = new Sad();
      const model: SadEntry[] = [];
      const dstOf = (b: boolean) => (b ? V4_A : V4_B);
      for (const [op, spi, protocol, which] of ops) {
        const id = `${protocol}-${spi}-${which}`;
        if (op === 'add') {
          const e = entry(id, spi, { protocol, dst: dstOf(which) });
          const clash = model.some((m) => m.id === id || (m.spi === spi && m.protocol === protocol && m.dst === e.dst));
          if (clash) expect(() => sad.add(e)).toThrow();
          else {
            sad.add(e);
            model.push(e);
          }
        } else {
          const i = model.findIndex((m) => m.id === id);
          expect(sad.remove(id)).toBe(i >= 0);
          if (i >= 0) model.splice(i, 1);
        }
        for (const s of [spi, spi + 1]) for (const p of ['esp', 'ah'] as const) for (const w of [true, false]) {
          const expected = model.find((m) => m.spi === s && m.protocol === p && m.dst === dstOf(w));
          expect(sad.findInbound(s, dstOf(w), p)).toBe(expected);
        }
      }
      expect(sad.size).toBe(model.length);
    },
  );
});

describe('SPI allocation', () => {
  const seeded = (seed: number) => {
    let s = seed;
    return (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % n;
    };
  };
  it('stays in the range and never collides with a live SA, until the range is full', () => {
    const sad = new Sad();
    const range = { min: 0x1000, max: 0x1000 + 49 };
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const spi = sad.allocateSpi(range, seeded(i));
      expect(spi).toBeGreaterThanOrEqual(range.min);
      expect(spi).toBeLessThanOrEqual(range.max);
      expect(seen.has(spi)).toBe(false);
      seen.add(spi);
      sad.add(entry(`l${i}`, spi));
    }
    expect(() => sad.allocateSpi(range, seeded(99))).toThrow(/every SPI in 0x1000..0x1031 is in use/);
    sad.remove('l7');
    expect(sad.allocateSpi(range, seeded(5))).toBe([...seen][7]);
  });
  it('names the argument for a bad range', () => {
    expect(() => new Sad().allocateSpi({ min: 0, max: 10 }, seeded(1))).toThrow(/^range: /);
    expect(() => new Sad().allocateSpi({ min: 0x2000, max: 0x1000 }, seeded(1))).toThrow(/^range: /);
  });
});

describe('lifetimes (RFC 4301 §4.4.2.1: whichever comes first; hard over soft)', () => {
  const sa = esp(0x6000, 'inbound');
  const e = entry('x', 0x6000, { sa, addedAtMs: 1000, lifetimes: { soft: { timeMs: 100, packets: 5 }, hard: { timeMs: 200, bytes: 1000 } } });
  it.each([
    [1050, 0, 0, 'ok'],
    [1100, 0, 0, 'soft'],
    [1050, 5, 0, 'soft'],
    [1050, 0, 1000, 'hard'],
    [1200, 0, 0, 'hard'],
    [1150, 9, 999, 'soft'],
  ] as const)('at %i ms with %i packets and %i bytes: %s', (now, packets, bytes, verdict) => {
    sa.usage.packets = packets;
    sa.usage.bytes = bytes;
    expect(lifetimeVerdict(e, now)).toBe(verdict);
  });
});
