import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { DROP_REASONS, DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { standardIvSource } from '../../../engine/esp/ivSource.js';
import { readEspSpi } from '../../../engine/packet/espHeader.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { ALL_SUITES, arbSaOptions, innerPacket, saPair, seededFill } from './fixtures.js';

const lookupOf = (sa: { spi: number }) => (spi: number) => (spi === sa.spi ? (sa as never) : undefined);

describe('ESP properties', () => {
  it(`covers all ${ALL_SUITES.length} registered suites`, () => {
    expect(ALL_SUITES.length).toBe(42);
  });

  test.prop([arbSaOptions, fc.constantFrom('node' as const, 'noble' as const)], { numRuns: 400 })(
    'decapsulate(encapsulate(p)) = p for every suite × mode × IP version × length',
    (o, backend) => {
      const outerVersion = o.mode === 'tunnel' ? o.outerVersion : o.innerVersion;
      const { out, in: inn } = saPair({ ...o, outerVersion, backend });
      const inner = innerPacket(o.innerVersion, o.payload);
      const ivs = standardIvSource(seededFill(o.seed));
      const sealed = encapsulate(inner, out, ivs);
      expect(sealed.ok).toBe(true);
      if (!sealed.ok) return;
      expect(parseIp(sealed.packet).ok).toBe(true);
      const opened = decapsulate(sealed.packet, lookupOf(inn));
      expect(opened.ok ? toHex(opened.packet) : opened.reason).toBe(toHex(inner));
    },
  );

  test.prop([arbSaOptions], { numRuns: 150 })('node and noble back ends produce byte-identical packets', (o) => {
    const outerVersion = o.mode === 'tunnel' ? o.outerVersion : o.innerVersion;
    const inner = innerPacket(o.innerVersion, o.payload);
    const packets = (['node', 'noble'] as const).map((backend) => {
      const { out } = saPair({ ...o, outerVersion, backend });
      const ivs = standardIvSource(seededFill(o.seed));
      // Two packets each, so sequence numbers and the IV pool move too.
      return [encapsulate(inner, out, ivs), encapsulate(inner, out, ivs)].map((r) => (r.ok ? toHex(r.packet) : r.reason));
    });
    expect(packets[1]).toEqual(packets[0]);
  });

  test.prop([arbSaOptions, fc.nat(), fc.constantFrom('node' as const, 'noble' as const)], { numRuns: 400 })(
    'any single bit flip in the ESP part gives { ok: false } and a counted reason, never a throw',
    (o, where, backend) => {
      const outerVersion = o.mode === 'tunnel' ? o.outerVersion : o.innerVersion;
      const { out, in: inn } = saPair({ ...o, outerVersion, backend });
      const sealed = encapsulate(innerPacket(o.innerVersion, o.payload), out, standardIvSource(seededFill(o.seed)));
      if (!sealed.ok) throw new Error(sealed.reason);
      const p = sealed.packet;
      // The ESP header follows the outer IP header (no extensions here) and the UDP header.
      const espOffset = (outerVersion === 4 ? 20 : 40) + (o.natT ? 8 : 0);
      expect(readEspSpi(p.subarray(espOffset))).toBe(out.spi);
      const bit = espOffset * 8 + (where % ((p.length - espOffset) * 8));
      p[bit >> 3]! ^= 1 << (bit & 7);
      const drops = new DropCounters();
      const r = decapsulate(p, lookupOf(inn), drops);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(DROP_REASONS).toContain(r.reason);
      expect(drops.total()).toBe(1);
      expect(inn.replay!.topLo).toBe(0); // the window never moved
    },
  );

  test.prop([arbSaOptions], { numRuns: 100 })('a delivered packet delivered again is a counted replay', (o) => {
    const outerVersion = o.mode === 'tunnel' ? o.outerVersion : o.innerVersion;
    const { out, in: inn } = saPair({ ...o, outerVersion, backend: 'node' });
    const sealed = encapsulate(innerPacket(o.innerVersion, o.payload), out, standardIvSource(seededFill(o.seed)));
    if (!sealed.ok) throw new Error(sealed.reason);
    const copy = sealed.packet.slice();
    expect(decapsulate(sealed.packet, lookupOf(inn)).ok).toBe(true);
    const drops = new DropCounters();
    const again = decapsulate(copy, lookupOf(inn), drops);
    expect(again.ok ? 'ok' : again.reason).toBe('replayed');
    expect(drops.forSa('sa-in').replayed).toBe(1);
  });
});
