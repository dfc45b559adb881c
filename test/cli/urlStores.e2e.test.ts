/**
 * `replay` and `timeline` on a store named by URL give the answer they give on a directory store
 * holding the same facts. A gateway (examples/shared/pair.ts: two gateways keyed by manual keying,
 * the first packet raising an ACQUIRE) writes its facts to a real PostgreSQL (PG_URL, a fresh
 * schema named in the URL: `?schema=`) and, when KURRENTDB_URL is set, to a real KurrentDB; the
 * operator then deletes its outbound SA. Its streams are copied in global order into an embedded
 * file log, and the CLI (a child process, as a person runs it) reads both.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import type { EventStore, RecordedEvent } from '../../adapters/eventStore/types.js';
import { openEventStore, parseStoreSpec } from '../../cli/storeSpec.js';
import { gatewayPair, udpPacket, wireAtoB } from '../../examples/shared/pair.js';
import { PG_URL, announceSkip, dropSchemas, freshSchema, rawClient } from '../adapters/eventStore/postgres/pgTestSupport.js';
import { json, runCli } from './cliRunner.js';

const KURRENTDB_URL = process.env.KURRENTDB_URL ?? '';
announceSkip('urlStores.e2e.test.ts: replay and timeline on postgres://');
if (KURRENTDB_URL === '') console.log('skipped: KURRENTDB_URL not set (urlStores.e2e.test.ts: replay and timeline on kurrentdb:// need a real KurrentDB server, e.g. KURRENTDB_URL=kurrentdb://127.0.0.1:2113?tls=false)');

/** The port, noting which streams were appended to (the writer's own streams on a shared server). */
function noting(store: EventStore, streams: Set<string>): EventStore {
  return { ...store, appendToStream: (name, events, options) => { streams.add(name); return store.appendToStream(name, events, options); }, readStream: (...a) => store.readStream(...a), readAll: (...a) => store.readAll(...a), subscribe: (...a) => store.subscribe(...a), close: () => store.close() };
}

/**
 * A gateway's life on `url`: the first packets raise an ACQUIRE and bring an SA pair up, 20
 * packets pass, then the operator deletes the outbound SA. Returns its streams and that SA's id.
 */
async function runGatewayOn(url: string): Promise<{ streams: Set<string>; outboundSaId: string }> {
  const opened = await openEventStore(parseStoreSpec(url), { applicationName: 'ipsec-es test gateway' });
  const streams = new Set<string>();
  const { a, b } = await gatewayPair(noting(opened.store, streams), memoryEventStore());
  const { toB, delivered, close } = wireAtoB(a, b);
  try {
    toB([1, 2, 3].map((n) => udpPacket('10.1.0.5', '10.2.0.7', n)));
    for (let i = 0; i < 250 && delivered.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([a.settled(), b.settled()]);
    toB(Array.from({ length: 20 }, (_, n) => udpPacket('10.1.0.5', '10.2.0.7', 100 + n)));
    expect(delivered).toHaveLength(23);
    const outboundSaId = a.saIds().find((id) => a.state(id)?.params?.direction === 'outbound' && a.state(id)?.status === 'mature');
    expect(outboundSaId).toBeDefined();
    a.deleteSa(outboundSaId!, 'operator');
    await Promise.all([a.settled(), b.settled()]);
    expect(a.state(outboundSaId!)?.status).toBe('dead');
    return { streams, outboundSaId: outboundSaId! };
  } finally {
    close();
    a.stop();
    b.stop();
    await opened.close();
  }
}

/** The streams' events from `url` in global order, appended in that order to a new file log in `<dir>/log`. */
async function copyToDirectory(url: string, streams: ReadonlySet<string>): Promise<{ dir: string; events: RecordedEvent[] }> {
  const source = await openEventStore(parseStoreSpec(url), { create: false });
  const events: RecordedEvent[] = [];
  for (const s of streams) events.push(...(await source.store.readStream(s)).events);
  await source.close();
  events.sort((x, y) => (x.globalPosition < y.globalPosition ? -1 : 1));
  const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-urlstore-'));
  const target = await fileLogEventStore({ directory: join(dir, 'log') });
  for (const e of events) await target.appendToStream(e.streamName, [{ id: e.id, type: e.type, data: e.data, metadata: e.metadata }], { expectedVersion: e.streamVersion - 1n });
  await target.close();
  return { dir, events };
}

describe.skipIf(PG_URL === '')('replay and timeline on postgres:// (PG_URL)', () => {
  const schema = freshSchema('cli');
  afterAll(() => dropSchemas([schema]));
  // A skipped describe still runs this body (vitest collects its tests): no URL to parse then.
  const url = PG_URL === '' ? undefined : new URL(PG_URL);
  url?.searchParams.set('schema', schema);
  const pg = url?.toString() ?? '';

  it('the same state, the same state at a position in the middle, and the same timeline as a directory holding the same facts', async () => {
    const { streams, outboundSaId } = await runGatewayOn(pg);
    const { dir, events } = await copyToDirectory(pg, streams);
    expect(events.length).toBeGreaterThan(5);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['AcquireRaised', 'SaInstalled', 'SaDeleted']));
    // One writer, no conflicts: PostgreSQL's positions are 1..n like the file log's, so positions compare too.
    expect(events.map((e) => e.globalPosition)).toEqual(events.map((_, i) => BigInt(i + 1)));

    const both = async (args: string[]) => {
      const [fromPg, fromDir] = await Promise.all([runCli([args[0]!, pg, ...args.slice(1)]), runCli([args[0]!, dir, ...args.slice(1)])]);
      expect(fromPg.status, fromPg.stderr).toBe(0);
      expect(fromDir.status, fromDir.stderr).toBe(0);
      return [fromPg, fromDir] as const;
    };

    const [statePg, stateDir] = await both(['replay', '--json']);
    const state = json<{ position: string; sas: Record<string, { status: string; deleted?: { reason: string } }> }>(statePg);
    expect(state).toEqual(json(stateDir));
    expect(state.position).toBe(String(events.length));
    expect(state.sas[outboundSaId]).toMatchObject({ status: 'dead', deleted: { reason: 'operator' } });
    expect(Object.keys(state.sas)).toHaveLength(2); // A's log holds A's pair (B logs its own elsewhere)

    const middle = events[Math.floor(events.length / 2)]!.globalPosition.toString();
    const [thenPg, thenDir] = await both(['replay', '--until', middle, '--json']);
    expect(json<{ position: string }>(thenPg).position).toBe(middle);
    expect(json(thenPg)).toEqual(json(thenDir));

    const [tlPg, tlDir] = await both(['timeline', '--sa', outboundSaId, '--all', '--json']);
    const timeline = json<{ status: string; deleted: { reason: string }; entries: Array<{ type: string }> }>(tlPg);
    expect(timeline).toEqual(json(tlDir));
    expect(timeline.status).toBe('dead');
    expect(timeline.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['SaInstalled', 'SaDeleted']));
    // What a person reads is the same too (the verdict line, each fact with its position).
    const [textPg, textDir] = await both(['timeline', '--sa', outboundSaId]);
    expect(textPg.stdout).toBe(textDir.stdout);
    expect(textPg.stdout).toMatch(new RegExp(`^SA ${outboundSaId}: died .*operator`));
    console.log(`timeline from ${pg.replace(/\/\/[^@]*@/, '//…@')}:\n${textPg.stdout}`);
  }, 120_000);

  it('a schema without a log is exit 4 (and stays absent), a bad URL exit 2, neither shows the password', async () => {
    const missing = new URL(PG_URL);
    missing.searchParams.set('schema', `${schema}_none`);
    const r = await runCli(['replay', missing.toString()]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^ipsec-es replay: no event log in postgres://\\S+ schema ${schema}_none: the schema has no events table`));
    expect(r.stderr).not.toMatch(/\/\/[^/@\s]*:[^/@\s]*@/);
    const client = await rawClient();
    const left = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [`${schema}_none`]).finally(() => client.end());
    expect(left.rowCount).toBe(0);
    const bad = await runCli(['timeline', 'postgres://gw:Secret9@db:notaport/x', '--sa', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('ipsec-es timeline: bad store postgres://gw:…@db:notaport/x: port "notaport" is not a number\n');
  }, 60_000);
});

describe.skipIf(KURRENTDB_URL === '')('replay and timeline on kurrentdb:// (KURRENTDB_URL)', () => {
  it('the same SA state and the same timeline as a directory holding the same facts (positions aside: the server holds other logs too)', async () => {
    const { streams, outboundSaId } = await runGatewayOn(KURRENTDB_URL);
    const { dir } = await copyToDirectory(KURRENTDB_URL, streams);
    const [saK, saD] = await Promise.all([runCli(['replay', KURRENTDB_URL, '--sa', outboundSaId, '--json']), runCli(['replay', dir, '--sa', outboundSaId, '--json'])]);
    expect(json<{ sa: unknown }>(saK).sa).toEqual(json<{ sa: unknown }>(saD).sa);
    expect(json<{ sa: { status: string } }>(saK).sa.status).toBe('dead');
    const [tlK, tlD] = await Promise.all([runCli(['timeline', KURRENTDB_URL, '--sa', outboundSaId, '--all', '--json']), runCli(['timeline', dir, '--sa', outboundSaId, '--all', '--json'])]);
    const strip = (r: Awaited<ReturnType<typeof runCli>>) => {
      const t = json<{ entries: Array<{ position?: string }> }>(r);
      return { ...t, entries: t.entries.map(({ position: _p, ...rest }) => rest) };
    };
    expect(strip(tlK)).toEqual(strip(tlD));
  }, 120_000);
});
