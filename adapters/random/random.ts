import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Random } from '../../machines/ports.js';

/**
 * The real source: the OS CSPRNG through `node:crypto`.
 *
 * @example
 * const spi = cryptoRandom.int(0x100, 0xffffffff);
 */
export const cryptoRandom: Random = {
  int: (min, max) => (max - min < 2 ** 48 - 1 ? randomInt(min, max + 1) : min + Math.floor(Math.random() * (max - min + 1))),
  uuid: () => randomUUID(),
  bytes: (n) => new Uint8Array(randomBytes(n)),
};

/**
 * The twin: a seeded PRNG (mulberry32), so a machine run with the same seed makes the same
 * choices. Its uuids are well-formed v4 strings drawn from the same sequence.
 *
 * @example
 * const random = seededRandom(42);
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const hex = (n: number) => next().toString(16).padStart(8, '0').slice(0, n);
  return {
    int: (min, max) => min + Math.floor((next() / 2 ** 32) * (max - min + 1)),
    bytes: (n) => Uint8Array.from({ length: n }, () => next() & 0xff),
    uuid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-${((next() & 3) | 8).toString(16)}${hex(3)}-${hex(8)}${hex(4)}`,
  };
}
