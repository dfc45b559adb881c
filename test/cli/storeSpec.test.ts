/**
 * cli/storeSpec.ts: what `--store` names (a directory, postgres://, kurrentdb://), the one-line
 * errors for a bad URL (exit 2, the password never shown), where a URL store's state goes, and
 * `openEventStore` against the real back ends: a PostgreSQL server (PG_URL, as the contract suite
 * uses it), closed ports for a server that is down, and the file log.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test as fcTest } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../cli/commands/command.js';
import { DEFAULT_STATE_ROOT, describeStore, openEventStore, parseStoreSpec, redactUrl, stateDirectory, type StoreSpec } from '../../cli/storeSpec.js';
import { PG_URL, announceSkip, dropSchemas, event, freshSchema, rawClient } from '../adapters/eventStore/postgres/pgTestSupport.js';

announceSkip('storeSpec.test.ts: openEventStore against PostgreSQL');

/** The CliError `f` throws (the test fails if it throws nothing or something else). */
function cliError(f: () => unknown): CliError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error('expected a CliError');
}

async function cliErrorOf(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(CliError);
  return e as CliError;
}

describe('parseStoreSpec', () => {
  it('a path is a directory store, kept as written (relative too, and names with a colon that is no store scheme)', () => {
    for (const d of ['/var/lib/ipsec-es/a', 'site-a', './x/y', 'c:foo', 'my:store']) expect(parseStoreSpec(d)).toEqual({ kind: 'dir', directory: d });
  });

  it('postgres:// and postgresql://: the schema comes out of the URL (default ipsec_es), every other option stays for pg', () => {
    expect(parseStoreSpec('postgres://gw:s3cret@db.example:5432/ipsec?schema=site_a')).toEqual({ kind: 'postgres', url: 'postgres://gw:s3cret@db.example:5432/ipsec', schema: 'site_a' });
    expect(parseStoreSpec('postgresql://gw@db/ipsec')).toEqual({ kind: 'postgres', url: 'postgresql://gw@db/ipsec', schema: 'ipsec_es' });
    expect(parseStoreSpec('postgres://gw@db/ipsec?sslmode=require&schema=b&application_name=x')).toEqual({ kind: 'postgres', url: 'postgres://gw@db/ipsec?sslmode=require&application_name=x', schema: 'b' });
    expect(parseStoreSpec('postgres:///ipsec?host=/var/run/postgresql')).toMatchObject({ kind: 'postgres', schema: 'ipsec_es' });
    expect(parseStoreSpec('postgres://u:p%40ss@[::1]:5433/d')).toMatchObject({ kind: 'postgres', url: 'postgres://u:p%40ss@[::1]:5433/d' });
  });

  it('kurrentdb:// and the other schemes the client takes, clusters of seeds included, passed on as written', () => {
    for (const url of ['kurrentdb://127.0.0.1:2113?tls=false', 'kurrentdb+discover://admin:changeit@a.example:2113,b.example:2113?tls=true&nodePreference=leader', 'kdb://h', 'kurrent://h:1', 'esdb://h:2113/']) {
      expect(parseStoreSpec(url)).toEqual({ kind: 'kurrentdb', url });
    }
  });

  const BAD: Array<[string, RegExp]> = [
    ['', /^the store is empty: give a directory, postgres:\/\/.+ or kurrentdb:\/\/.+$/],
    ['   ', /^the store is empty/],
    ['mysql://h/db', /^bad store mysql:\/\/h\/db: unknown scheme mysql:\/\/; give a directory/],
    ['http://h', /unknown scheme http:\/\//],
    ['postgres:/h/db', /^bad store postgres:\/h\/db: postgres: must be followed by \/\//],
    ['kurrentdb:h', /kurrentdb: must be followed by \/\//],
    ['postgres://h:99999/db', /port 99999 is not in 1\.\.65535$/],
    ['postgres://h:0/db', /port 0 is not in 1\.\.65535$/],
    ['postgres://gw:pw@h:abc/db', /port "abc" is not a number$/],
    ['postgres://h/db?schema=Site', /schema "Site" must be a plain lower-case identifier/],
    ['postgres://h/db?schema=1a', /schema "1a" must be/],
    ['postgres://h/db?schema=a;drop', /schema "a;drop" must be/],
    ['postgres://h/db?schema=a&schema=b', /schema= is given more than once$/],
    ['postgres://h/db#x', /a #fragment means nothing here$/],
    ['postgres://h b/db', /not a URL/],
    ['kurrentdb://', /no host/],
    ['kurrentdb://h:0', /port 0 is not in 1\.\.65535$/],
    ['kurrentdb://h:x', /"h:x" is not host or host:port$/],
    ['kurrentdb://a:1,,b:2', /"" is not host or host:port$/],
    ['kurrentdb://admin@h', /credentials must be user:password@$/],
    ['kurrentdb://h?tls', /the options must be \?key=value&key=value$/],
  ];
  it.each(BAD)('%j is a one-line usage error (exit 2): %s', (text, message) => {
    const e = cliError(() => parseStoreSpec(text));
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('the password is never in a message: not in errors, not in descriptions, not in state directory names', () => {
    const secret = 'Hunter2Secret';
    for (const text of [`postgres://gw@h/db?password=${secret}&schema=X`, `postgres://gw:${secret}@h:abc/db`, `postgres://gw:${secret}@h/db?schema=X`, `kurrentdb://admin:${secret}@h:0`, `kurrentdb://admin:${secret}@h?tls`, `postgres://gw:${secret}@h b/db`]) {
      expect(cliError(() => parseStoreSpec(text)).message).not.toContain(secret);
    }
    for (const text of [`postgres://gw:${secret}@h/db`, `kurrentdb://admin:${secret}@h:2113?tls=false`, `kdb+discover://admin:${secret}@a,b`]) {
      const spec = parseStoreSpec(text);
      expect(describeStore(spec)).not.toContain(secret);
      expect(stateDirectory(spec, {})).not.toContain(secret);
    }
  });

  fcTest.prop([fc.string({ minLength: 1, maxLength: 24 }), fc.constantFrom('postgres', 'kurrentdb', 'kdb+discover', 'mysql')])('any password (percent-encoded as URLs want it) stays out of redactUrl, describeStore and every error', (raw, scheme) => {
    const password = `PW${encodeURIComponent(raw)}`;
    const text = `${scheme}://gw:${password}@db.example:5432/ipsec`;
    expect(redactUrl(text)).toBe(`${scheme}://gw:…@db.example:5432/ipsec`);
    let spec: StoreSpec | undefined;
    try {
      spec = parseStoreSpec(text);
    } catch (e) {
      expect((e as Error).message).not.toContain(password);
    }
    if (spec) expect(describeStore(spec)).not.toContain(password);
  });
});

describe('describeStore', () => {
  it('says which log without the password: PostgreSQL with its port and schema, KurrentDB as written', () => {
    expect(describeStore(parseStoreSpec('/srv/gw'))).toBe('/srv/gw');
    expect(describeStore(parseStoreSpec('postgres://gw:pw@db/ipsec'))).toBe('postgres://gw@db:5432/ipsec schema ipsec_es');
    expect(describeStore(parseStoreSpec('postgres://db:6543/ipsec?schema=site_a'))).toBe('postgres://db:6543/ipsec schema site_a');
    expect(describeStore(parseStoreSpec('kurrentdb://admin:pw@h:2113?tls=false'))).toBe('kurrentdb://admin:…@h:2113?tls=false');
  });
});

describe('stateDirectory', () => {
  it('a directory store is its own state directory; --state-dir with it is a usage error that says why', () => {
    expect(stateDirectory(parseStoreSpec('/srv/gw'), {})).toBe('/srv/gw');
    const e = cliError(() => stateDirectory(parseStoreSpec('/srv/gw'), { 'state-dir': '/elsewhere' }));
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toBe('--state-dir is for postgres:// and kurrentdb:// stores; the store directory /srv/gw keeps its control socket and keys in itself');
  });

  it('a URL store: --state-dir when given, else /var/lib/ipsec-es/<kind-host-port-database-schema>', () => {
    const pg = parseStoreSpec('postgres://gw:pw@db.example/ipsec?schema=site_a');
    expect(stateDirectory(pg, { 'state-dir': '/run/gw-a' })).toBe('/run/gw-a');
    expect(stateDirectory(pg, {})).toBe(join(DEFAULT_STATE_ROOT, 'postgres-db.example-5432-ipsec-site_a'));
    expect(stateDirectory(parseStoreSpec('kurrentdb://h:2113?tls=false'), {})).toBe(join(DEFAULT_STATE_ROOT, 'kurrentdb-h-2113'));
    expect(stateDirectory(parseStoreSpec('kurrentdb+discover://a,b:2114'), {})).toBe(join(DEFAULT_STATE_ROOT, 'kurrentdb-a-2113-b-2114'));
    expect(stateDirectory(parseStoreSpec('postgres://u:p@[::1]:5433/d'), {})).toBe(join(DEFAULT_STATE_ROOT, 'postgres-__1-5433-d-ipsec_es'));
    expect(cliError(() => stateDirectory(pg, { 'state-dir': '' })).exitCode).toBe(EXIT.usage);
  });

  it('one log, one state directory: the user, the password, the default port and other options do not change it; the schema and the database do', () => {
    const dir = (t: string) => stateDirectory(parseStoreSpec(t), {});
    const base = dir('postgres://db/ipsec');
    for (const same of ['postgres://db:5432/ipsec', 'postgresql://gw:pw@db/ipsec', 'postgres://other@db/ipsec?sslmode=require', 'postgres://db/ipsec?schema=ipsec_es']) expect(dir(same), same).toBe(base);
    for (const other of ['postgres://db/ipsec?schema=b', 'postgres://db/other', 'postgres://db:5433/ipsec', 'postgres://db2/ipsec']) expect(dir(other), other).not.toBe(base);
    expect(dir('kurrentdb://h')).toBe(dir('kdb://admin:pw@h:2113?tls=false'));
  });
});

describe('openEventStore: servers that are down, and the file log', () => {
  it('PostgreSQL on a closed port: exit 4 naming the store (no password) and what to check', async () => {
    const t0 = performance.now();
    const e = await cliErrorOf(openEventStore(parseStoreSpec('postgres://gw:Secret9@127.0.0.1:1/ipsec'), { create: false }));
    expect(e.exitCode).toBe(EXIT.store);
    expect(e.message).toMatch(/^cannot open postgres:\/\/gw@127\.0\.0\.1:1\/ipsec schema ipsec_es: PostgreSQL event store unavailable while .*ECONNREFUSED.*check that the server is running/);
    expect(e.message).not.toContain('Secret9');
    expect(performance.now() - t0).toBeLessThan(15_000);
    // The gateway's way (create: true) fails the same way before anything else starts.
    expect((await cliErrorOf(openEventStore(parseStoreSpec('postgres://127.0.0.1:1/ipsec')))).exitCode).toBe(EXIT.store);
  });

  it('KurrentDB on a closed port (the real client): exit 4 naming the store', async () => {
    const e = await cliErrorOf(openEventStore(parseStoreSpec('kurrentdb://admin:Secret9@127.0.0.1:1?tls=false'), { create: false }));
    expect(e.exitCode).toBe(EXIT.store);
    expect(e.message).toMatch(/^cannot open kurrentdb:\/\/admin:…@127\.0\.0\.1:1\?tls=false: KurrentDB event store unavailable while reading \$all/);
    expect(e.message).not.toContain('Secret9');
  });

  it('a directory: create makes <dir>/log and appends there; a reader is refused a directory without a log (exit 4), and creates nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-spec-'));
    const missing = join(dir, 'nothing-here');
    const e = await cliErrorOf(openEventStore(parseStoreSpec(missing), { create: false }));
    expect(e.exitCode).toBe(EXIT.store);
    expect(e.message).toBe(`no event log in ${missing} (looked for ${join(missing, 'log')}): is it a gateway's --store directory?`);
    expect(readdirSync(dir)).toEqual([]);

    const opened = await openEventStore(parseStoreSpec(dir));
    expect(opened.describe).toBe(dir);
    await opened.store.appendToStream('sa-1', [event()], { expectedVersion: 'noStream' });
    await opened.close();
    expect(readdirSync(join(dir, 'log')).some((f) => f.endsWith('.log'))).toBe(true);
    const again = await openEventStore(parseStoreSpec(dir), { create: false });
    expect((await again.store.readStream('sa-1')).currentVersion).toBe(1n);
    await again.close();
  });
});

describe.skipIf(PG_URL === '')('openEventStore against PostgreSQL at PG_URL', () => {
  const schema = freshSchema('storespec');
  afterAll(() => dropSchemas([schema]));
  const url = () => {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    return u.toString();
  };
  const schemaExists = async () => {
    const c = await rawClient();
    try {
      return (await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount === 1;
    } finally {
      await c.end();
    }
  };

  it('a reader is refused a schema that holds no log (exit 4) and creates nothing; the gateway creates it; then the reader reads what was written', async () => {
    const e = await cliErrorOf(openEventStore(parseStoreSpec(url()), { create: false }));
    expect(e.exitCode).toBe(EXIT.store);
    expect(e.message).toMatch(new RegExp(`^no event log in postgres://.* schema ${schema}: the schema has no events table \\(is \\?schema= the gateway's\\? default ipsec_es\\)$`));
    expect(e.message).not.toMatch(/\/\/[^/@]*:[^/@]*@/); // no user:password@
    expect(await schemaExists()).toBe(false);

    const writer = await openEventStore(parseStoreSpec(url()), { applicationName: 'ipsec-es test' });
    expect(writer.describe).toMatch(new RegExp(` schema ${schema}$`));
    expect(await schemaExists()).toBe(true);
    const r = await writer.store.appendToStream('sa-7', [event(), event()], { expectedVersion: 'noStream' });
    await writer.close();

    const reader = await openEventStore(parseStoreSpec(url()), { create: false });
    const all = await reader.store.readAll();
    expect(all.map((x) => [x.streamName, x.streamVersion])).toEqual([['sa-7', 1n], ['sa-7', 2n]]);
    expect(all.at(-1)!.globalPosition).toBe(r.lastGlobalPosition);
    await reader.close();
    // Closed means closed: the pool the opener made is ended too.
    await expect(reader.store.readAll()).rejects.toMatchObject({ code: 'store.unavailable' });
  });
});
