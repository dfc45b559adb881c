/**
 * SAD inbound lookups per second with 1k and 100k SAs, over SPIs in random order, beside a
 * naive linear scan of the same entries measured in the same run. Lookups are verified equal
 * before timing. Part of `npm run bench`.
 */
import { Sad } from '../engine/sad/sad.js';
import type { SadEntry } from '../engine/sad/types.js';
import { interleaved, looped } from './lib/measure.js';

const DST = Uint8Array.of(192, 0, 2, 2);
const quick = process.argv.includes('--quick');

function build(n: number): { sad: Sad; list: SadEntry[]; spis: Uint32Array } {
  const sad = new Sad();
  const list: SadEntry[] = [];
  let s = 12345;
  const random = (k: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % k);
  for (let i = 0; i < n; i++) {
    const spi = sad.allocateSpi({ min: 0x100, max: 0xffffffff }, random);
    const e: SadEntry = { id: `sa-${i}`, spi, protocol: 'esp', direction: 'inbound', dst: DST, sa: undefined, lifetimes: { soft: {}, hard: {} }, addedAtMs: 0, policyId: undefined, statefulFragmentCheck: false, pathMtu: undefined };
    sad.add(e);
    list.push(e);
  }
  const spis = new Uint32Array(65536);
  for (let i = 0; i < spis.length; i++) spis[i] = list[random(n)]!.spi;
  return { sad, list, spis };
}

function linear(list: SadEntry[], spi: number): SadEntry | undefined {
  for (const e of list) if (e.spi === spi && e.protocol === 'esp' && e.dst.length === DST.length && e.dst.every((b, i) => b === DST[i])) return e;
  return undefined;
}

console.log('\nSAD inbound lookup by (SPI, destination, protocol), random SPIs');
console.log('SAs'.padStart(7), 'sad lookups/s'.padStart(15), 'linear scan/s'.padStart(15), 'ratio'.padStart(9));
for (const n of [1_000, 100_000]) {
  const { sad, list, spis } = build(n);
  for (let i = 0; i < 200; i++) if (sad.findInbound(spis[i]!, DST, 'esp') !== linear(list, spis[i]!)) throw new Error('SAD and linear scan disagree');
  let i = 0;
  let j = 0;
  const [fast, slow] = interleaved([looped(() => void sad.findInbound(spis[i++ & 0xffff]!, DST, 'esp')), looped(() => void linear(list, spis[j++ & 0xffff]!))], quick ? 300 : 800) as [number, number];
  console.log(String(n).padStart(7), Math.round(fast).toLocaleString('en').padStart(15), Math.round(slow).toLocaleString('en').padStart(15), `${(fast / slow).toFixed(0)}×`.padStart(9));
}
