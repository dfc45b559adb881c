/**
 * SAD inbound lookups per second with 1k and 100k SAs, over SPIs in random order, beside two
 * references measured in the same run: a `Map` from SPI to entry with the destination and
 * protocol checked on the entry (what the SAD did before its typed-array table), and a naive
 * linear scan. Lookups are verified equal before timing. It ends with the goal of issue 3:
 * at least 1M lookups/s with 100k SAs, flat as the size grows. Part of `npm run bench`.
 */
import { Sad } from '../engine/sad/sad.js';
import type { SadEntry } from '../engine/sad/types.js';
import { interleaved, looped } from './lib/measure.js';

const DST = Uint8Array.of(192, 0, 2, 2);
const quick = process.argv.includes('--quick');
const SIZES = [1_000, 100_000];
const GOAL = 1e6;

function build(n: number): { sad: Sad; list: SadEntry[]; map: Map<number, SadEntry>; spis: Uint32Array } {
  const sad = new Sad();
  const list: SadEntry[] = [];
  let s = 12345;
  const random = (k: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % k);
  for (let i = 0; i < n; i++) {
    const spi = sad.allocateSpi({ min: 0x100, max: 0xffffffff }, random);
    // Each SA its own address array, as SAs set up one by one have.
    const e: SadEntry = { id: `sa-${i}`, spi, protocol: 'esp', direction: 'inbound', dst: DST.slice(), sa: undefined, lifetimes: { soft: {}, hard: {} }, addedAtMs: 0, policyId: undefined, statefulFragmentCheck: false, pathMtu: undefined };
    sad.add(e);
    list.push(e);
  }
  const spis = new Uint32Array(65536);
  for (let i = 0; i < spis.length; i++) spis[i] = list[random(n)]!.spi;
  return { sad, list, map: new Map(list.map((e) => [e.spi, e])), spis };
}

function matches(e: SadEntry, dst: Uint8Array): boolean {
  if (e.protocol !== 'esp' || e.dst.length !== dst.length) return false;
  for (let i = 0; i < dst.length; i++) if (e.dst[i] !== dst[i]) return false;
  return true;
}

function linear(list: SadEntry[], spi: number): SadEntry | undefined {
  for (const e of list) if (e.spi === spi && matches(e, DST)) return e;
  return undefined;
}

function viaMap(map: Map<number, SadEntry>, spi: number): SadEntry | undefined {
  const e = map.get(spi);
  return e !== undefined && matches(e, DST) ? e : undefined;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
console.log('\nSAD inbound lookup by (SPI, destination, protocol), random SPIs');
console.log('SAs'.padStart(7), 'sad lookups/s'.padStart(15), 'Map by SPI/s'.padStart(15), 'linear scan/s'.padStart(15), 'sad/Map'.padStart(8), 'sad/linear'.padStart(11));
const rates: number[] = [];
for (const n of SIZES) {
  const { sad, list, map, spis } = build(n);
  for (let i = 0; i < 2000; i++) {
    const want = linear(list, spis[i]!);
    if (sad.findInbound(spis[i]!, DST, 'esp') !== want || viaMap(map, spis[i]!) !== want || want === undefined) throw new Error('SAD, Map and linear scan disagree');
  }
  let i = 0;
  let j = 0;
  let k = 0;
  const [fast, mapped, slow] = interleaved([
    looped(() => void sad.findInbound(spis[i++ & 0xffff]!, DST, 'esp')),
    looped(() => void viaMap(map, spis[k++ & 0xffff]!)),
    looped(() => void linear(list, spis[j++ & 0xffff]!)),
  ], quick ? 300 : 800) as [number, number, number];
  rates.push(fast);
  console.log(String(n).padStart(7), fmt(fast).padStart(15), fmt(mapped).padStart(15), fmt(slow).padStart(15), `${(fast / mapped).toFixed(1)}×`.padStart(8), `${(fast / slow).toFixed(0)}×`.padStart(11));
}
const last = rates.at(-1)!;
console.log(`\ngoal ≥ ${fmt(GOAL)} lookups/s at ${fmt(SIZES.at(-1)!)} SAs: ${last >= GOAL ? 'met' : 'NOT met'} (${fmt(last)}/s)`);
console.log(`flatness, rate at ${fmt(SIZES.at(-1)!)} / rate at ${fmt(SIZES[0]!)} SAs (1.00 = flat): ${(last / rates[0]!).toFixed(2)}`);
