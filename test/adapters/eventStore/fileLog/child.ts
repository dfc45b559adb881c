/**
 * A separate process for the file log's kill and lock tests (run bundled by `childProcess.ts`).
 *
 *   child append <dir> <tag> <writers>  appends forever with many concurrent writers and prints one
 *                                       line per acknowledged append: `ack <stream> <version> <position> <count>`
 *   child hold <dir>                    opens the store, prints `open <pid>`, waits to be killed
 *   child try <dir>                     tries to open it and prints `open` or `error <name> <message>`
 *
 * stdout is a pipe, and on Linux a write to a pipe is synchronous: once `ack` is printed it has
 * left this process, so a SIGKILL right after it cannot take it back.
 */
import { fileLogEventStore } from '../../../../adapters/eventStore/fileLog/fileLogEventStore.js';

const [mode, directory, tag = 't', writersArg = '24'] = process.argv.slice(2);
if (!mode || !directory) throw new Error('usage: child append|hold|try <dir> [tag] [writers]');
const say = (line: string): void => void process.stdout.write(`${line}\n`);

if (mode === 'try') {
  try {
    const store = await fileLogEventStore({ directory });
    say('open');
    await store.close();
  } catch (e) {
    const err = e as Error;
    say(`error ${err.name} ${err.message}`);
  }
} else if (mode === 'hold') {
  await fileLogEventStore({ directory });
  say(`open ${process.pid}`);
  setInterval(() => {}, 60_000);
} else if (mode === 'append') {
  // Small segments, so kills land around segment rolls too.
  const store = await fileLogEventStore({ directory, segmentBytes: 32 * 1024 });
  say('ready');
  const writers = Number(writersArg);
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const stream = `kill-${tag}w${w}`;
      let version = 0n;
      for (let n = 0; ; n++) {
        const count = 1 + ((n + w) % 4);
        const events = Array.from({ length: count }, (_, i) => ({
          id: `${tag}-${w}-${n}-${i}`,
          type: 'KillTested',
          data: { w, n, i, count, pad: 'x'.repeat((n * 37 + w) % 300) },
          metadata: { at: '2025-01-01T00:00:00.000Z', schemaVersion: 1 },
        }));
        const r = await store.appendToStream(stream, events, { expectedVersion: version });
        version = r.nextExpectedVersion;
        say(`ack ${stream} ${r.nextExpectedVersion} ${r.lastGlobalPosition} ${count}`);
      }
    }),
  );
}
