import type { LifetimeLimit, LifetimeVerdict, SadEntry } from './types.js';

function reached(limit: LifetimeLimit, ageMs: number, bytes: number, packets: number): boolean {
  return (
    (limit.timeMs !== undefined && ageMs >= limit.timeMs) ||
    (limit.bytes !== undefined && bytes >= limit.bytes) ||
    (limit.packets !== undefined && packets >= limit.packets)
  );
}

/**
 * Which lifetime an SA has reached at `nowMs`: the hard limit wins over the soft one, and each
 * is "whichever comes first" of time, bytes and packets (RFC 4301 §4.4.2.1). Pure: the clock
 * reading is an argument. A larval entry only ages.
 *
 * @example
 * if (lifetimeVerdict(entry, clock.now()) === 'hard') sad.remove(entry.id);
 */
export function lifetimeVerdict(entry: SadEntry, nowMs: number): LifetimeVerdict {
  const age = nowMs - entry.addedAtMs;
  const bytes = entry.sa?.usage.bytes ?? 0;
  const packets = entry.sa?.usage.packets ?? 0;
  if (reached(entry.lifetimes.hard, age, bytes, packets)) return 'hard';
  if (reached(entry.lifetimes.soft, age, bytes, packets)) return 'soft';
  return 'ok';
}
