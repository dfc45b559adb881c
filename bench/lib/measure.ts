import { spawnSync } from 'node:child_process';

/** Something to time in slices: it runs for about `budgetMs` and says how many operations it did in how many ns. */
export interface Timed {
  slice(budgetMs: number): { ops: number; ns: number };
}

/**
 * `opsPerCall` operations per call of `step`: one by default (a packet sealed, a lookup made),
 * `n` for a batch call (n packets sealed in one call).
 */
export function looped(step: () => void, opsPerCall = 1): Timed {
  for (let i = 0; i < (opsPerCall > 1 ? 20 : 200); i++) step(); // warm-up
  const callsPerClockRead = opsPerCall > 1 ? 1 : 16;
  return {
    slice(budgetMs) {
      let ops = 0;
      const start = process.hrtime.bigint();
      const end = start + BigInt(Math.round(budgetMs * 1e6));
      let now = start;
      while (now < end) {
        for (let i = 0; i < callsPerClockRead; i++) step();
        ops += callsPerClockRead * opsPerCall;
        now = process.hrtime.bigint();
      }
      return { ops, ns: Number(now - start) };
    },
  };
}

/**
 * Work that consumes its inputs (decapsulation: each packet once per fresh window): `prepare`
 * builds a round untimed, `run` processes it timed and returns the operation count.
 */
export function rounds<T>(prepare: () => T, run: (round: T) => number): Timed {
  run(prepare()); // warm-up
  return {
    slice(budgetMs) {
      let ops = 0;
      let ns = 0;
      while (ns / 1e6 < budgetMs) {
        const round = prepare();
        const t0 = process.hrtime.bigint();
        ops += run(round);
        ns += Number(process.hrtime.bigint() - t0);
      }
      return { ops, ns };
    },
  };
}

/**
 * Operations per second of each candidate, measured in turns: `slices` rounds in which every
 * candidate runs `totalMs / slices` ms. On a noisy machine a ratio of two candidates then
 * compares the same moments, not two different ones.
 */
export function interleaved(candidates: readonly Timed[], totalMs: number, slices = 6): number[] {
  const ops = candidates.map(() => 0);
  const ns = candidates.map(() => 0);
  for (let s = 0; s < slices; s++) {
    candidates.forEach((c, i) => {
      const r = c.slice(totalMs / slices);
      ops[i]! += r.ops;
      ns[i]! += r.ns;
    });
  }
  return ops.map((o, i) => o / (ns[i]! / 1e9));
}

/**
 * `openssl speed -mr -elapsed` for one algorithm at one size: bytes per second, or undefined when
 * openssl is missing or prints no figure.
 */
export function opensslBytesPerSecond(args: string[], bytes: number, seconds = 1): number | undefined {
  const r = spawnSync('openssl', ['speed', '-mr', '-elapsed', '-seconds', String(seconds), '-bytes', String(bytes), ...args], { encoding: 'utf8' });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('+F:'));
  const value = line ? Number(line.split(':').at(-1)) : NaN;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** `openssl version`, for the report header. */
export function opensslVersion(): string {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout?.trim() || 'openssl not found';
}
