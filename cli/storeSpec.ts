/**
 * What `--store` (and the `<store>` argument of the read verbs) names: a directory of the
 * embedded file log, a PostgreSQL database or a KurrentDB server. One parser, one opener, and
 * where the state a gateway keeps beside its log goes (the control socket, the sealed keys).
 *
 * State directory: a directory store keeps `control.sock` and `keys/` in itself, as it always
 * has. A URL store has no directory, so it takes `--state-dir <dir>`, by default
 * `/var/lib/ipsec-es/<name>` with the name made of the URL's kind, host, port, database and
 * schema (never the user or password). /var/lib and not /run: the sealed key store must outlive a
 * reboot, since a restart restores SAs from the log and their keys from `keys/` (and
 * `export-wireshark` reads them after the fact); /run is emptied at boot. The name leaves the
 * user out because the log, not the login, is what the state belongs to: two logins to one
 * schema are one gateway's log. It fills in default ports, so `postgres://h/db` and
 * `postgres://h:5432/db` share a state directory.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventStore } from '../adapters/eventStore/types.js';
import { CliError, EXIT } from './commands/command.js';

/** A parsed `--store`. `url` is what the client gets (for PostgreSQL, without `schema=`). */
export type StoreSpec =
  | { kind: 'dir'; directory: string }
  | { kind: 'postgres'; url: string; schema: string }
  | { kind: 'kurrentdb'; url: string };

/** Where URL stores keep their state unless `--state-dir` says otherwise. */
export const DEFAULT_STATE_ROOT = '/var/lib/ipsec-es';

/** The PostgreSQL schema a gateway uses unless the URL has `?schema=` (the adapter's default). */
export const DEFAULT_PG_SCHEMA = 'ipsec_es';

/** The `<store>` argument of the read verbs, for their `--help`. */
export const STORE_ARGUMENT_HELP = `<store>               the gateway's --store: a directory of the embedded file log (or its
                      log directory; read without the writer lock, also while the gateway
                      runs), postgres://user[:password]@host[:5432]/database[?schema=<name>]
                      (schema default ipsec_es; the password may be in PGPASSWORD instead),
                      or kurrentdb://[user:password@]host[:2113][?tls=false]`;

/** How the read verbs name their positional argument in usage errors. */
export const STORE_POSITIONAL = '<store> (the gateway\'s --store: a directory, postgres://… or kurrentdb://…)';

const PG_SCHEMES = new Set(['postgres', 'postgresql']);
/** The schemes `@kurrent/kurrentdb-client` accepts (esdb is deprecated, but it works). */
const KURRENT_SCHEMES = new Set(['kurrentdb', 'kurrent', 'kdb', 'esdb'].flatMap((s) => [s, `${s}+discover`]));
/** As in adapters/eventStore/postgres/postgresSchema.ts: a plain lower-case identifier. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const EXPECTED = 'give a directory, postgres://user:password@host:5432/database[?schema=<name>] or kurrentdb://host:2113[?tls=false]';

/**
 * `text` with the password of a `scheme://user:password@…` URL replaced by `…`, for messages.
 * Everything up to the last `@` counts as credentials, so a password with an `@` in it is hidden
 * too; so is a `password=` option.
 *
 * @example
 * redactUrl('postgres://gw:s3cret@db/ipsec') // 'postgres://gw:…@db/ipsec'
 */
export function redactUrl(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(text);
  if (!m) return text;
  const hidden = text.replace(/([?&]password=)[^&#]*/gi, '$1…'); // pg takes ?password= too
  const at = hidden.lastIndexOf('@');
  if (at < m[1]!.length) return hidden;
  const credentials = hidden.slice(m[1]!.length, at);
  const colon = credentials.indexOf(':');
  return colon < 0 ? hidden : `${m[1]}${credentials.slice(0, colon)}:…@${hidden.slice(at + 1)}`;
}

const bad = (text: string, why: string) => new CliError(`bad store ${redactUrl(text)}: ${why}`, EXIT.usage);

/**
 * Reads a `--store` value. A bad URL is a `CliError` (exit 2) in one line that names what is
 * wrong and never shows the password.
 *
 * @example
 * parseStoreSpec('/var/lib/ipsec-es/a')                        // { kind: 'dir', directory: '/var/lib/ipsec-es/a' }
 * parseStoreSpec('postgres://gw:pw@db:5432/ipsec?schema=site_a') // { kind: 'postgres', url: 'postgres://gw:pw@db:5432/ipsec', schema: 'site_a' }
 * parseStoreSpec('kurrentdb://127.0.0.1:2113?tls=false')        // { kind: 'kurrentdb', url: 'kurrentdb://127.0.0.1:2113?tls=false' }
 */
export function parseStoreSpec(text: string): StoreSpec {
  if (typeof text !== 'string' || text.trim() === '') throw new CliError(`the store is empty: ${EXPECTED}`, EXIT.usage);
  const scheme = /^([a-z][a-z0-9+.-]*):(\/\/)?/i.exec(text);
  const name = scheme?.[1]!.toLowerCase();
  if (!scheme || !name || (!scheme[2] && !PG_SCHEMES.has(name) && !KURRENT_SCHEMES.has(name))) return { kind: 'dir', directory: text };
  if (!scheme[2]) throw bad(text, `${name}: must be followed by // (${EXPECTED})`);
  if (PG_SCHEMES.has(name)) return parsePostgres(text);
  if (KURRENT_SCHEMES.has(name)) return parseKurrent(text);
  throw bad(text, `unknown scheme ${name}://; ${EXPECTED}`);
}

function parsePostgres(text: string): StoreSpec {
  const port = /^[^:]+:\/\/(?:[^@/?]*@)?(?:\[[^\]]*\]|[^:/?]*)(?::([^/?#]*))?/.exec(text)?.[1];
  if (port !== undefined && port !== '' && !/^\d+$/.test(port)) throw bad(text, `port ${JSON.stringify(port)} is not a number`);
  if (port !== undefined && port !== '' && (Number(port) < 1 || Number(port) > 65535)) throw bad(text, `port ${port} is not in 1..65535`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(text, 'not a URL (expected postgres://user:password@host:5432/database; characters such as @ : / in the password must be percent-encoded)');
  }
  if (url.hash !== '') throw bad(text, 'a #fragment means nothing here');
  const schemas = url.searchParams.getAll('schema');
  if (schemas.length > 1) throw bad(text, 'schema= is given more than once');
  const schema = schemas[0] ?? DEFAULT_PG_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) throw bad(text, `schema ${JSON.stringify(schema)} must be a plain lower-case identifier (letters, digits, _; not starting with a digit; at most 63)`);
  url.searchParams.delete('schema');
  return { kind: 'postgres', url: url.toString(), schema };
}

function parseKurrent(text: string): StoreSpec {
  // The client's syntax (not WHATWG's: a cluster lists several host:port seeds separated by commas).
  const m = /^[^:]+:\/\/(?:([^@/?]*)@)?([^/?@]*)\/?(\?.*)?$/.exec(text);
  if (!m) throw bad(text, 'expected kurrentdb://[user:password@]host[:port][,host[:port]...][?key=value&...]');
  if (m[1] !== undefined && !/^[^:]+:.+$/.test(m[1])) throw bad(text, 'credentials must be user:password@');
  if (m[2] === '') throw bad(text, 'no host (kurrentdb://host:2113?tls=false)');
  for (const seed of m[2]!.split(',')) {
    const hp = /^([^:,]+)(?::(\d+))?$/.exec(seed);
    if (!hp) throw bad(text, `${JSON.stringify(seed)} is not host or host:port`);
    if (hp[2] !== undefined && (Number(hp[2]) < 1 || Number(hp[2]) > 65535)) throw bad(text, `port ${hp[2]} is not in 1..65535`);
  }
  if (m[3] !== undefined && !/^\?[^=&?]+=[^&?]+(&[^=&?]+=[^&?]+)*$/.test(m[3])) throw bad(text, 'the options must be ?key=value&key=value');
  return { kind: 'kurrentdb', url: text };
}

/**
 * The store for people: the directory, or the URL without its password (PostgreSQL: and the schema).
 *
 * @example
 * describeStore(parseStoreSpec('postgres://gw:pw@db/ipsec')) // 'postgres://gw@db:5432/ipsec schema ipsec_es'
 */
export function describeStore(spec: StoreSpec): string {
  if (spec.kind === 'dir') return spec.directory;
  if (spec.kind === 'postgres') {
    const u = new URL(spec.url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${host}:${u.port || 5432}${u.pathname || '/'} schema ${spec.schema}`;
  }
  return redactUrl(spec.url);
}

/** A file name from the parts that say which log this is (no user, no password). */
function stateName(spec: Exclude<StoreSpec, { kind: 'dir' }>): string {
  let parts: string[];
  if (spec.kind === 'postgres') {
    const u = new URL(spec.url);
    parts = ['postgres', u.hostname.replace(/^\[|\]$/g, '') || u.searchParams.get('host') || 'localhost', u.port || '5432', decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres', spec.schema];
  } else {
    const hosts = /^[^:]+:\/\/(?:[^@/?]*@)?([^/?@]*)/.exec(spec.url)![1]!;
    parts = ['kurrentdb', ...hosts.split(',').map((h) => (h.includes(':') ? h : `${h}:2113`).replace(':', '-'))];
  }
  return parts.join('-').replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Where the gateway's control socket (`control.sock`) and sealed key store (`keys/`) are: a
 * directory store itself; for a URL store `--state-dir`, or `/var/lib/ipsec-es/<name>` (the file
 * comment says why). `--state-dir` with a directory store is a `CliError` (exit 2): it would be
 * ignored, and a person who gives it expects it to count.
 *
 * @example
 * stateDirectory(parseStoreSpec('postgres://gw:pw@db/ipsec'), {}) // '/var/lib/ipsec-es/postgres-db-5432-ipsec-ipsec_es'
 * stateDirectory(parseStoreSpec('/srv/gw'), {})                   // '/srv/gw'
 */
export function stateDirectory(spec: StoreSpec, flags: { 'state-dir'?: unknown }): string {
  const given = flags['state-dir'];
  if (given !== undefined && (typeof given !== 'string' || given === '')) throw new CliError('--state-dir must be a directory', EXIT.usage);
  if (spec.kind === 'dir') {
    if (given !== undefined) throw new CliError(`--state-dir is for postgres:// and kurrentdb:// stores; the store directory ${spec.directory} keeps its control socket and keys in itself`, EXIT.usage);
    return spec.directory;
  }
  return given ?? join(DEFAULT_STATE_ROOT, stateName(spec));
}

/**
 * Creates the state directory (mode 0700: it holds the control socket and sealed keys) if missing.
 *
 * @example
 * await ensureStateDirectory(stateDirectory(spec, values));
 */
export async function ensureStateDirectory(directory: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CliError(`cannot create the state directory ${directory}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --state-dir <dir>)`, EXIT.store);
  }
}

/** An opened store, what to call it in status lines, and how to let it go. */
export interface OpenedStore {
  readonly store: EventStore;
  /** The directory, or the URL without its password (see `describeStore`). */
  readonly describe: string;
  /** Closes the store (pending appends finish first) and anything opened for it. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /**
   * `true` (default; the gateway): create what is missing (the file log in `<dir>/log`, the
   * PostgreSQL schema). `false` (a reader): the store must already hold a log, and nothing is
   * created; a missing one is a `CliError` (exit 4).
   */
  create?: boolean;
  /** How the connection introduces itself to PostgreSQL (`application_name`); default `ipsec-es`. */
  applicationName?: string;
}

/**
 * Opens the store `spec` names and checks that it answers, so that a wrong URL or a server that
 * is down is one line (`CliError`, exit 4) before anything else starts. A directory is opened as
 * the file log's writer (its lock: one writer per directory); to read a running gateway's
 * directory use `openLog` (cli/logReader.ts), which takes no lock.
 *
 * @example
 * const { store, describe, close } = await openEventStore(parseStoreSpec(values.store));
 * say(JSON.stringify({ event: 'store', store: describe }));
 */
export async function openEventStore(spec: StoreSpec, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  const create = options.create ?? true;
  const describe = describeStore(spec);
  if (spec.kind === 'dir') {
    const { fileLogEventStore } = await import('../adapters/eventStore/fileLog/fileLogEventStore.js');
    const directory = join(spec.directory, 'log');
    if (!create) {
      const { stat } = await import('node:fs/promises');
      if (!(await stat(directory).then((s) => s.isDirectory(), () => false))) throw new CliError(`no event log in ${spec.directory} (looked for ${directory}): is it a gateway's --store directory?`, EXIT.store);
    }
    const store = await fileLogEventStore({ directory });
    return { store, describe, close: () => store.close() };
  }
  if (spec.kind === 'postgres') {
    const [{ Pool }, { postgresEventStore }, { toStoreError }] = await Promise.all([import('pg'), import('../adapters/eventStore/postgres/postgresEventStore.js'), import('../adapters/eventStore/postgres/postgresErrors.js')]);
    const pool = new Pool({ connectionString: spec.url, application_name: options.applicationName ?? 'ipsec-es', connectionTimeoutMillis: 10_000 });
    pool.on('error', () => {}); // an idle connection the server drops: the next query reports it
    const store = postgresEventStore({ pool, schema: spec.schema });
    const close = async () => {
      await store.close();
      await pool.end();
    };
    try {
      if (create) await store.migrate();
      else {
        const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`"${spec.schema}".events`]).catch((e: unknown) => { throw toStoreError(e, 'looking for the events table'); });
        if (rows[0]?.t == null) throw new CliError(`no event log in ${describe}: the schema has no events table (is ?schema= the gateway's? default ${DEFAULT_PG_SCHEMA})`, EXIT.store);
      }
    } catch (e) {
      await close().catch(() => {});
      throw e instanceof CliError ? e : new CliError(`cannot open ${describe}: ${(e as Error).message}`, EXIT.store);
    }
    return { store, describe, close };
  }
  const { kurrentdbEventStore } = await import('../adapters/eventStore/kurrentdb/kurrentdbEventStore.js');
  const store = kurrentdbEventStore({ connectionString: spec.url });
  try {
    await store.readAll({ maxCount: 1 }); // connects, or says why not (the client connects lazily)
  } catch (e) {
    await store.close().catch(() => {});
    throw new CliError(`cannot open ${describe}: ${(e as Error).message}`, EXIT.store);
  }
  return { store, describe, close: () => store.close() };
}
