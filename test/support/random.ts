/** Seeded randomness and fuzz inputs shared by the tests, so every failure reproduces exactly. */

/** mulberry32 (public domain, Tommy Ettinger): a tiny seeded PRNG of unsigned 32-bit numbers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A seeded PRNG of numbers in [0, 1). */
export function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export interface FuzzInputOptions {
  /** Longest purely random input. */
  maxRandomLength: number;
  /** Make random bytes look like IP (a version nibble, a protocol number) so they get further. */
  shapeRandom?: (input: Uint8Array, int: (n: number) => number) => void;
  /** Also hand out seeds unmutated (a fifth kind), e.g. to reach the replay check. */
  unmutated?: boolean;
}

/**
 * One fuzz input: random bytes, or a valid seed with bit flips, truncated or extended.
 *
 * @example
 * const input = fuzzInput(rnd, seeds, { maxRandomLength: 160 });
 */
export function fuzzInput(rnd: () => number, seeds: readonly Uint8Array[], o: FuzzInputOptions): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  const kind = int(o.unmutated ? 5 : 4);
  if (kind === 0) {
    const input = Uint8Array.from({ length: int(o.maxRandomLength) }, () => int(256));
    o.shapeRandom?.(input, int);
    return input;
  }
  let input = seeds[int(seeds.length)]!.slice();
  const flips = kind === 4 ? 0 : 1 + int(4);
  for (let f = 0; f < flips; f++) input[int(input.length)]! ^= 1 << int(8);
  if (kind === 2) input = input.subarray(0, int(input.length + 1));
  if (kind === 3) {
    const grown = new Uint8Array(input.length + int(64));
    grown.set(input);
    input = grown;
  }
  return input;
}
