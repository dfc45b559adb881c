import type { Clock } from '../../machines/ports.js';

/**
 * The real clock: wall time and Node's timers. Its twin is xstate's `SimulatedClock`, which
 * drives both delayed transitions and `now()` in tests (hours of lifetime in milliseconds).
 *
 * @example
 * const gateway = createGateway({ clock: systemClock, ... });
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A gateway's lifetimes are hours long: a pending timer alone must not keep a process alive.
    t.unref();
    return t;
  },
  clearTimeout: (id) => clearTimeout(id),
};
