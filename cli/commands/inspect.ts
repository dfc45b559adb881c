/**
 * `ipsec-es inspect`: a recorded log stepped through the SA lifecycle machine, as Stately
 * inspection events (`@statelyai/inspect`'s `createInspector`, so any Stately-compatible viewer
 * reads them). For each fact of an SA the state is folded and routed by the machine itself
 * (`getInitialSnapshot` of `createSaLifecycleMachine` with the folded state: the same router a
 * restart uses, run purely: no effect, no timer, no journal). The events are served on a local
 * page of our own (works offline: Server-Sent Events over node:http) and, with `--stately`, to
 * Stately's web inspector (https://stately.ai/inspect, which needs the internet).
 */
import { createServer, type ServerResponse } from 'node:http';
import { getInitialSnapshot } from 'xstate';
import { evolveSa, initialSaState, type SaState } from '../../engine/aggregates/sa.js';
import type { SaFact } from '../../engine/events/saFacts.js';
import { parseStreamName } from '../../engine/events/streams.js';
import { describeSaFact } from '../../engine/projections/timeline.js';
import { createSaLifecycleMachine } from '../../machines/saLifecycle/saLifecycle.machine.js';
import { seededRandom } from '../../adapters/random/random.js';
import { openLog } from '../logReader.js';
import { STORE_ARGUMENT_HELP, STORE_POSITIONAL } from '../storeSpec.js';
import { parseUntil } from './replayCommands.js';
import { COMMON_HELP, CliError, EXIT, intFlag, type Command } from './command.js';
import { INSPECTOR_PAGE } from './inspectorPage.js';

type InspectionEvent = Record<string, unknown> & { type: string };

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'watch the SA machines step through a recorded log (Stately inspection events)',
  help: `ipsec-es inspect <store> [--until <position|time>] [--sa <id>]... [--port <n>] [--rate <facts/s>]

Steps every SA of the log through the SA lifecycle machine (larval → mature → rekeying →
dying → dead), fact by fact, and serves the Stately inspection events on a local page:
http://127.0.0.1:<port>/ shows each machine's state and the facts that moved it, live.
Works offline. --stately also streams them to Stately's web inspector (needs the internet).
Runs until interrupted (Ctrl-C), or ends after the replay with --exit.

${STORE_ARGUMENT_HELP}

Options:
  --until <p|time>    stop after global position p or at an ISO 8601 time
  --sa <id>           only this SA (repeatable)
  --port <n>          the page's port on 127.0.0.1 (default 0: a free one, printed)
  --rate <facts/s>    replay speed (default 20; 0: as fast as possible)
  --stately           also send the events to https://stately.ai/inspect through
                      @statelyai/inspect's bridge on port 8080 (opens a browser)
  --exit              end when the replay is done (after the page has been served once)
  --follow            after the replay, keep reading the log as a running gateway appends to
                      it (every 500 ms): the page shows its SAs live, until interrupted
${COMMON_HELP}`,
  options: { until: { type: 'string' }, sa: { type: 'string', multiple: true }, port: { type: 'string' }, rate: { type: 'string' }, stately: { type: 'boolean' }, exit: { type: 'boolean' }, follow: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: STORE_POSITIONAL },
  async run({ values, positionals }, io) {
    const until = parseUntil(values.until);
    if (values.follow && (values.exit || values.until)) throw new CliError('inspect: --follow reads on until interrupted; it does not go with --exit or --until', EXIT.usage);
    const port = intFlag(values, 'port', 0, 0, 65535);
    const rate = intFlag(values, 'rate', 20, 0, 1_000_000);
    const only = values.sa ? new Set((values.sa as string[]).map((id) => `sa-${id}`)) : undefined;
    let createInspector: typeof import('@statelyai/inspect').createInspector;
    try {
      ({ createInspector } = await import('@statelyai/inspect'));
    } catch {
      throw new CliError('inspect needs the @statelyai/inspect package: npm install @statelyai/inspect', EXIT.usage);
    }
    const log = await openLog(positionals[0]!);

    // Every inspection event is kept (a page opened late sees the whole replay) and pushed live.
    const events: InspectionEvent[] = [];
    const clients = new Set<ServerResponse>();
    let finished = false;
    let served = false;
    const statelyInspector = values.stately ? await statelyBridge() : undefined;
    const inspector = createInspector({
      send: (e) => {
        const event = e as unknown as InspectionEvent;
        events.push(event);
        const line = `data: ${JSON.stringify(event)}\n\n`;
        for (const c of clients) c.write(line);
        statelyInspector?.send(e);
      },
    });
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(INSPECTOR_PAGE);
      } else if (path === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
        if (finished) res.write('event: done\ndata: {}\n\n');
        clients.add(res);
        served = true;
        req.on('close', () => clients.delete(res));
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
    await new Promise<void>((resolve, reject) => server.once('error', (e) => reject(new CliError(`inspect: cannot listen on 127.0.0.1:${port}: ${(e as NodeJS.ErrnoException).code}`, EXIT.usage))).listen(port, '127.0.0.1', () => resolve()));
    const address = server.address() as { port: number };
    io.out(JSON.stringify({ event: 'inspecting', url: `http://127.0.0.1:${address.port}/`, store: log.description, ...(values.stately ? { stately: 'http://localhost:8080' } : {}) }));

    let at = 0;
    const machine = createSaLifecycleMachine({ clock: { now: () => at }, random: seededRandom(1) });
    const definition = { sessionId: '', logic: machine } as const;
    const sas = new Map<string, SaState>();
    let steps = 0;
    let last = 0n;
    let stopping = false;
    const stop = () => { stopping = true; };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    /** Reads what the log holds past `last` and steps each SA fact through the machine. */
    const readOn = async (paced: boolean): Promise<boolean> => {
      for await (const f of log.facts({ ...(until && 'position' in until ? { until: until.position } : {}), ...(only ? { streams: only } : {}), ...(last > 0n ? { after: last } : {}) })) {
        if (until && 'time' in until && Date.parse(f.fact.meta.at) > until.time) return false;
        last = f.position;
        const stream = parseStreamName(f.streamName);
        if (stream?.category !== 'sa') continue;
        at = Date.parse(f.fact.meta.at);
        const before = sas.get(stream.id);
        const state = evolveSa(before ?? initialSaState, f.fact as SaFact);
        sas.set(stream.id, state);
        const snap = getInitialSnapshot(machine, { saId: stream.id, state });
        const shown = { status: snap.status, value: snap.value, context: { saId: stream.id, status: state.status, version: state.version, ...(state.deleted ? { deleted: state.deleted.reason } : {}) } };
        const actorRef = { ...definition, sessionId: f.streamName } as unknown as Parameters<typeof inspector.actor>[0];
        if (!before) inspector.actor(actorRef, shown);
        const event = { type: f.fact.type, position: f.position.toString(), at: f.fact.meta.at, summary: describeSaFact(f.fact) };
        inspector.event(f.streamName, event);
        inspector.snapshot(f.streamName, shown, { event });
        steps++;
        if (paced && rate > 0) await new Promise((r) => setTimeout(r, 1000 / rate));
        if (stopping) return false;
      }
      return true;
    };
    try {
      await readOn(true);
      if (values.follow) {
        io.out(JSON.stringify({ event: 'following', position: last.toString(), sas: sas.size }));
        // A running gateway appends; each round reads only what came since (`after`).
        while (!stopping) {
          await new Promise((r) => setTimeout(r, 500));
          await readOn(false);
        }
      }
    } finally {
      await log.close();
    }
    finished = true;
    for (const c of clients) c.write('event: done\ndata: {}\n\n');
    io.out(JSON.stringify({ event: 'replayed', sas: sas.size, facts: steps, states: Object.fromEntries([...sas].map(([id, s]) => [id, s.status])) }));
    if (values.exit) {
      while (!served) await new Promise((r) => setTimeout(r, 100));
    } else {
      while (!stopping) await new Promise((r) => setTimeout(r, 100));
    }
    for (const c of clients) c.end();
    server.close();
    statelyInspector?.stop();
    return EXIT.ok;
  },
};

/** The Stately web inspector through the package's own bridge (a WebSocket server on 8080). */
async function statelyBridge(): Promise<{ send(e: unknown): void; stop(): void }> {
  const { createInspectorServer } = await import('@statelyai/inspect/server');
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const server = createInspectorServer({ port: 8080 });
  const ws = createWebSocketInspector({ url: 'ws://localhost:8080' });
  return { send: (e) => ws.adapter.send(e as never), stop: () => { ws.stop(); server.stop(); } };
}
