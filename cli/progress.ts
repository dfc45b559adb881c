/**
 * A progress bar on stderr for long reads: redrawn in place on a terminal (at most ten times a
 * second), or a line every 10 % when forced on without one (`--progress` into a file or a pipe).
 * Off when stderr is not a terminal and nobody asked.
 */

export interface Progress {
  update(done: number, total: number | undefined): void;
  /** Ends the bar with a summary line. */
  done(summary: string): void;
}

const units = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`);

/**
 * @example
 * const bar = progressBar({ write: (s) => process.stderr.write(s), tty: process.stderr.isTTY, label: 'reading log', forced: false });
 */
export function progressBar(o: { write: (text: string) => void; tty: boolean; forced: boolean; label: string; unit?: 'bytes' | 'events' }): Progress {
  if (!o.tty && !o.forced) return { update() {}, done() {} };
  const started = performance.now();
  let lastDraw = 0;
  let lastTenth = -1;
  const fmt = (n: number) => (o.unit === 'events' ? `${n} events` : units(n));
  return {
    update(done, total) {
      const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
      if (o.tty) {
        const now = performance.now();
        if (now - lastDraw < 100) return;
        lastDraw = now;
        const width = 30;
        const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
        o.write(`\r${o.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct === undefined ? '' : `${String(pct).padStart(3)}% `}${fmt(done)}${total ? ` of ${fmt(total)}` : ''}`);
      } else {
        const tenth = pct === undefined ? Math.floor(done / 100_000) : Math.floor(pct / 10);
        if (tenth === lastTenth) return;
        lastTenth = tenth;
        o.write(`${o.label}: ${pct === undefined ? '' : `${pct}% `}${fmt(done)}${total ? ` of ${fmt(total)}` : ''}\n`);
      }
    },
    done(summary) {
      o.write(`${o.tty ? '\r\x1b[K' : ''}${o.label}: ${summary} in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
    },
  };
}
