/**
 * Reads a gateway's log for `replay`, `timeline`, `export-wireshark` and `inspect`, from any
 * store the gateway can use (cli/storeSpec.ts): a directory of the embedded file log (the
 * gateway's `--store`, whose log is `<dir>/log`, or the log directory itself), `postgres://…` or
 * `kurrentdb://…`.
 *
 * The file log is read without opening it as a store: no writer lock is taken and nothing is
 * written, so a log can be read while its gateway runs. Segments are read one at a time and
 * records checked by their CRC-32C (FORMAT.md); the first record that is not whole in the last
 * segment ends the read (a write in flight or a torn tail that the writer will cut). Records of
 * other streams can be skipped without parsing their JSON (`streams`), which is what makes a
 * timeline over a million events fast.
 *
 * A URL store is opened with `openEventStore(spec, { create: false })`: it must hold a log
 * already (nothing is created), and it is read through the port, `$all` page by page, or, when
 * only some streams are wanted, those streams alone (`readStream`, merged by global position), so
 * a timeline does not pull the whole log over the network.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromRecorded } from '../adapters/eventStore/facts.js';
import { SEGMENT_HEADER_BYTES, readRecord, recordEvents, segmentHeaderProblem } from '../adapters/eventStore/fileLog/recordCodec.js';
import type { RecordedEvent } from '../adapters/eventStore/types.js';
import type { LoggedFact } from '../engine/projections/replay.js';
import { CliError, EXIT } from './commands/command.js';
import { openEventStore, parseStoreSpec, type OpenedStore, type StoreSpec } from './storeSpec.js';

const SEGMENT = /^(\d{20})\.log$/;

/** Progress of a read: `done` of `total` units (bytes for the file log, events for a server). */
export type OnProgress = (done: number, total: number | undefined) => void;

export interface LogSource {
  /** What was opened, for messages. */
  readonly description: string;
  /**
   * The facts in global order. `streams`: only these streams (others are skipped cheaply).
   * `until`: stop after this global position. `after`: only facts past this position (a reader
   * following a live log asks again with the last position it saw; the file log then reads only
   * what was appended since).
   */
  facts(options?: { streams?: ReadonlySet<string>; until?: bigint; after?: bigint; onProgress?: OnProgress }): AsyncGenerator<LoggedFact>;
  close(): Promise<void>;
}

/**
 * Opens the log named by `spec` (a directory, a `postgres://`/`kurrentdb://` URL, or a parsed
 * `StoreSpec`). A bad URL is a `CliError` with exit 2; a missing directory, one without a log, a
 * server that does not answer or a database without the log is a `CliError` with exit 4 that says
 * what was looked for.
 *
 * @example
 * const log = await openLog('/var/lib/ipsec-es/a'); // or 'postgres://gw:pw@db/ipsec?schema=site_a'
 * for await (const f of log.facts()) console.log(f.fact.type);
 */
export async function openLog(spec: string | StoreSpec): Promise<LogSource> {
  const parsed = typeof spec === 'string' ? parseStoreSpec(spec) : spec;
  if (parsed.kind === 'dir') return fileLogSource(parsed.directory);
  return storeSource(await openEventStore(parsed, { create: false, applicationName: 'ipsec-es reader' }));
}

async function segmentsIn(dir: string): Promise<string[] | undefined> {
  try {
    const files = (await readdir(dir)).filter((f) => SEGMENT.test(f)).sort();
    return files.length ? files.map((f) => join(dir, f)) : undefined;
  } catch {
    return undefined;
  }
}

async function fileLogSource(dir: string): Promise<LogSource> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new CliError(`no store at ${dir}: give the gateway's --store directory (or a postgres:// or kurrentdb:// URL)`, EXIT.store);
  const logDir = (await segmentsIn(join(dir, 'log'))) ? join(dir, 'log') : dir;
  if (!(await segmentsIn(logDir))) throw new CliError(`no event log in ${dir} (looked for ${join(dir, 'log')}/*.log and ${dir}/*.log): is it a gateway's --store directory?`, EXIT.store);
  /** Where the last read of each segment ended (a whole record) and the last position it held: a follower resumes there. */
  const cursors = new Map<string, { offset: number; lastPosition: bigint }>();
  return {
    description: dir,
    async *facts(options = {}) {
      // Listed per read: a live gateway starts new segments.
      const segments = (await segmentsIn(logDir)) ?? [];
      const sizes = await Promise.all(segments.map((p) => stat(p).then((s) => s.size)));
      const total = sizes.reduce((a, b) => a + b, 0);
      let before = 0;
      for (let s = 0; s < segments.length; s++) {
        const path = segments[s]!;
        // A segment that ends at or before `after` is skipped whole: the next one starts past it.
        const next = segments[s + 1];
        if (options.after !== undefined && next !== undefined && BigInt(SEGMENT.exec(next.slice(next.lastIndexOf('/') + 1))![1]!) - 1n <= options.after) {
          before += sizes[s]!;
          continue;
        }
        const cursor = cursors.get(path);
        const resume = options.after !== undefined && cursor !== undefined && cursor.lastPosition <= options.after ? cursor.offset : 0;
        const fh = await open(path, 'r');
        let buf: Buffer;
        try {
          if (resume === 0) buf = await fh.readFile();
          else {
            // Only what was appended since the cursor, placed at its offset in the segment.
            const size = (await fh.stat()).size;
            buf = Buffer.alloc(Math.max(size, resume));
            if (size > resume) await fh.read(buf, resume, size - resume, resume);
          }
        } finally {
          await fh.close();
        }
        if (resume === 0) {
          const header = segmentHeaderProblem(buf);
          if (header) {
            if (s === segments.length - 1 && buf.length <= SEGMENT_HEADER_BYTES) return; // being created
            throw new CliError(`${path} is damaged at byte 0 (${header}); open the store with its gateway to see the recovery report`, EXIT.store);
          }
        }
        let off = resume === 0 ? SEGMENT_HEADER_BYTES : resume;
        let lastReport = 0;
        while (off < buf.length) {
          const r = readRecord(buf, off, false);
          if (typeof r === 'string') {
            if (s === segments.length - 1) break; // in flight, or a torn tail the writer cuts on open
            throw new CliError(`${path} is damaged at byte ${off} (${r}); open the store with its gateway to see the recovery report`, EXIT.store);
          }
          if (options.until !== undefined && BigInt(r.firstPosition) > options.until) return;
          const lastInRecord = BigInt(r.firstPosition + r.count - 1);
          cursors.set(path, { offset: off + r.bytes, lastPosition: lastInRecord });
          if ((options.after === undefined || lastInRecord > options.after) && (!options.streams || options.streams.has(r.streamName))) {
            const events = recordEvents(buf, r);
            if (!events) throw new CliError(`${segments[s]}: the record at byte ${off} does not decode`, EXIT.store);
            for (let i = 0; i < events.length; i++) {
              const position = BigInt(r.firstPosition + i);
              if (options.after !== undefined && position <= options.after) continue;
              if (options.until !== undefined && position > options.until) return;
              const [type, data, metadata] = events[i]!;
              yield fromRecorded({ id: '', type, data, metadata, streamName: r.streamName, streamVersion: BigInt(r.firstVersion + i), globalPosition: position });
            }
          }
          off += r.bytes;
          if (options.onProgress && off - lastReport > 1 << 20) {
            lastReport = off;
            options.onProgress(before + off, total);
          }
        }
        before += sizes[s]!;
        options.onProgress?.(before, total);
      }
    },
    async close() {},
  };
}

const PAGE = 10_000;

function storeSource({ store, describe, close }: OpenedStore): LogSource {
  const read = async <T>(what: Promise<T>): Promise<T> => {
    try {
      return await what;
    } catch (e) {
      throw new CliError(`cannot read ${describe}: ${(e as Error).message}`, EXIT.store);
    }
  };
  /** The wanted streams read one by one, then merged into global order (progress in events). */
  async function* someStreams(streams: ReadonlySet<string>, until: bigint | undefined, onProgress: OnProgress | undefined): AsyncGenerator<LoggedFact> {
    const events: RecordedEvent[] = [];
    let total = 0;
    for (const name of streams) {
      for (let from = 1n; ; ) {
        const page = await read(store.readStream(name, { from, maxCount: PAGE }));
        if (from === 1n) total += Number(page.currentVersion);
        events.push(...page.events);
        onProgress?.(events.length, total);
        const last = page.events.at(-1);
        if (!last || last.streamVersion >= page.currentVersion) break;
        from = last.streamVersion + 1n;
      }
    }
    events.sort((a, b) => (a.globalPosition < b.globalPosition ? -1 : a.globalPosition > b.globalPosition ? 1 : 0));
    for (const e of events) {
      if (until !== undefined && e.globalPosition > until) return;
      yield fromRecorded(e);
    }
  }
  return {
    description: describe,
    async *facts(options = {}) {
      if (options.streams) {
        for await (const f of someStreams(options.streams, options.until, options.onProgress)) if (options.after === undefined || f.position > options.after) yield f;
        return;
      }
      let after = options.after ?? 0n;
      let done = 0;
      for (;;) {
        const page = await read(store.readAll({ after, maxCount: PAGE }));
        if (page.length === 0) return;
        for (const e of page) {
          if (options.until !== undefined && e.globalPosition > options.until) return;
          yield fromRecorded(e);
        }
        after = page[page.length - 1]!.globalPosition;
        done += page.length;
        options.onProgress?.(done, undefined);
      }
    },
    close,
  };
}
