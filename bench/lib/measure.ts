import { spawnSync } from 'node:child_process';

/** Runs `step` (one packet per call) for about `budgetMs` after a warm-up; returns calls per second. */
export function perSecond(step: () => void, budgetMs: number): number {
  for (let i = 0; i < 200; i++) step();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(budgetMs * 1e6));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 32; i++) step();
    n += 32;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/**
 * Times work that consumes its inputs (decapsulation: each packet once per fresh window):
 * `prepare` builds one round untimed, `run` processes it timed and returns the packet count.
 */
export function perSecondRounds<T>(prepare: () => T, run: (round: T) => number, budgetMs: number): number {
  run(prepare()); // warm-up round
  let packets = 0;
  let ns = 0n;
  while (Number(ns) / 1e6 < budgetMs) {
    const round = prepare();
    const t0 = process.hrtime.bigint();
    packets += run(round);
    ns += process.hrtime.bigint() - t0;
  }
  return packets / (Number(ns) / 1e9);
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
