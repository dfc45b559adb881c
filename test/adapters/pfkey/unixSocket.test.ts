/**
 * The PF_KEY Unix socket adapter: a key manager in a SEPARATE PROCESS drives GETSPI → UPDATE →
 * GET → DELETE → DUMP over the socket; broadcasts reach the other connection; partial reads and
 * coalesced messages are framed; a malformed message gets an error reply and broken framing a
 * close with a logged reason, while the server keeps serving everyone else. A service that
 * records its changes before they take effect (`settled()`) gets its replies held until then.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PfKeyFrameReader } from '../../../adapters/pfkey/frameReader.js';
import { servePfKeyUnix, type PfKeySocketEvent, type PfKeyUnixServer } from '../../../adapters/pfkey/unixSocket.js';
import { ERRNO, SADB_SASTATE, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { PfKeyEndpoint } from '../../../engine/pfkey/endpoint.js';
import { memorySadPort } from '../../../engine/pfkey/memorySadPort.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import { sadPfKeyPort } from '../../../engine/pfkey/sadAdapter.js';
import type { SadPort } from '../../../engine/pfkey/sadPort.js';
import { Sad } from '../../../engine/sad/sad.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url));

let dir: string;
let path: string;
let sad: SadPort;
let endpoint: PfKeyEndpoint;
let server: PfKeyUnixServer;
const events: PfKeySocketEvent[] = [];

/** Runs the client script in its own node process; resolves with its JSON lines. */
function runClient(scenario: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, path, scenario], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client exited ${code}: ${err}`));
      resolve(out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}

/** An in-process client: a socket plus a queue of decoded messages. */
async function localClient(): Promise<{ socket: Socket; next: () => Promise<PfKeyMessage>; inbox: PfKeyMessage[]; closed: Promise<void> }> {
  const socket = connect(path);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const reader = new PfKeyFrameReader();
  const inbox: PfKeyMessage[] = [];
  const waiting: ((m: PfKeyMessage) => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const f of reader.push(new Uint8Array(chunk)).frames) {
      const r = decodePfKey(f);
      if (!r.ok) throw new Error(r.error.message);
      const w = waiting.shift();
      if (w) w(r.msg);
      else inbox.push(r.msg);
    }
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const next = () =>
    new Promise<PfKeyMessage>((resolve, reject) => {
      const m = inbox.shift();
      if (m) return resolve(m);
      waiting.push(resolve);
      setTimeout(() => reject(new Error('no message within 5 s')), 5000).unref();
    });
  return { socket, next, inbox, closed };
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

// The same conversation against the Map-based fake and against the real SAD (engine/sad), where
// the keys become data-path SAs (192.0.2.0/24 and 198.51.100.0/24 count as this host's addresses).
const PORTS: [string, () => SadPort][] = [
  ['Map-based SAD port', () => memorySadPort()],
  ['engine SAD', () => sadPfKeyPort({ sad: new Sad(), isLocal: () => true })],
];

for (const [label, makePort] of PORTS) describe(label, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfkey-'));
    path = join(dir, 'pfkey.sock');
    sad = makePort();
    events.length = 0;
    let seed = 1;
    endpoint = new PfKeyEndpoint({ sad, random: (n) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n });
    server = await servePfKeyUnix({ path, service: endpoint, log: (e) => events.push(e) });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('PF_KEY over a Unix socket', () => {
    it('GETSPI → UPDATE → GET → DELETE → DUMP from a separate process; the other connection sees the broadcasts', async () => {
      const listener = await localClient();
      listener.socket.write(encodePfKey({ type: 'REGISTER', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 1, ext: {} }));
      expect((await listener.next()).type).toBe('REGISTER');

      const lines = await runClient('sequence');
      expect(lines.map((l) => [l.type, l.errno, l.seq])).toEqual([
        ['GETSPI', 0, 1],
        ['GETSPI', 0, 2],
        ['UPDATE', 0, 3],
        ['GET', 0, 4],
        ['DELETE', 0, 5],
        ['DUMP', 0, 0],
      ]);
      const [a, b, upd, get, del, dump] = lines as { ext: Record<string, Record<string, unknown>> }[];
      const spiA = a!.ext.sa!.spi as number;
      const spiB = b!.ext.sa!.spi as number;
      expect(spiA).toBeGreaterThanOrEqual(0x10000);
      expect(spiA).toBeLessThanOrEqual(0x1ffff);
      expect(spiB).not.toBe(spiA);
      expect(a!.ext.sa!.state).toBe(SADB_SASTATE.LARVAL);
      expect(upd!.ext.sa).toMatchObject({ spi: spiA, state: SADB_SASTATE.MATURE, encrypt: 20 });
      expect(upd!.ext.keyEncrypt).toBeUndefined();
      expect(get!.ext.keyEncrypt).toEqual({ bits: 288, key: Buffer.from(Uint8Array.from({ length: 36 }, (_, i) => i)).toString('hex') });
      expect(get!.ext.lifetimeHard).toMatchObject({ addtime: '3600n' });
      expect(del!.ext.sa).toMatchObject({ spi: spiA });
      expect(dump!.ext.sa).toMatchObject({ spi: spiB, state: SADB_SASTATE.LARVAL });
      expect(sad.list().map((s) => s.spi)).toEqual([spiB]);

      // RFC 2367 §3.1.2/§3.1.4: UPDATE and DELETE are echoed to the other sockets too.
      await settle();
      expect(listener.inbox.map((m) => [m.type, m.type === 'UPDATE' || m.type === 'DELETE' ? m.ext.sa?.spi : undefined])).toEqual([
        ['UPDATE', spiA],
        ['DELETE', spiA],
      ]);
      expect(listener.inbox[0]!.type === 'UPDATE' && listener.inbox[0]!.ext.keyEncrypt).toBeUndefined();

      // Endpoint-originated ACQUIRE reaches the REGISTERed connection.
      listener.inbox.length = 0;
      const { seq, broadcasts } = endpoint.acquire({ protocol: 'esp', src: Uint8Array.of(10, 0, 0, 1), dst: Uint8Array.of(10, 0, 0, 2) });
      server.deliver(broadcasts);
      const acq = await listener.next();
      expect(acq).toMatchObject({ type: 'ACQUIRE', seq });
      listener.socket.destroy();
      await listener.closed;
    });

    it('frames partial reads and several messages per chunk; replies come in request order', async () => {
      const c = await localClient();
      const flush = (seq: number, satype: number): Uint8Array => encodePfKey({ type: 'FLUSH', satype, errno: 0, seq, pid: 9, ext: {} });
      const dump = encodePfKey({ type: 'DUMP', satype: SADB_SATYPE.AH, errno: 0, seq: 3, pid: 9, ext: {} });
      // Two messages and the first 5 octets of a third in one chunk, then the rest octet by octet.
      const all = new Uint8Array([...flush(1, SADB_SATYPE.AH), ...dump, ...flush(4, 99)]);
      c.socket.write(all.subarray(0, 37));
      for (let i = 37; i < all.length; i++) {
        await settle(2);
        c.socket.write(all.subarray(i, i + 1));
      }
      const replies = [await c.next(), await c.next(), await c.next()];
      expect(replies.map((m) => [m.type, m.seq, m.errno])).toEqual([
        ['FLUSH', 1, 0],
        ['DUMP', 3, ERRNO.ENOENT],
        ['FLUSH', 4, ERRNO.EINVAL],
      ]);
      c.socket.destroy();
      await c.closed;
    });

    it('a malformed message gets an error reply, broken framing a logged close; the server keeps serving', async () => {
      const bystander = await localClient();
      const lines = await runClient('malformed');
      expect(lines[0]).toMatchObject({ type: 'GET', errno: ERRNO.EINVAL, seq: 7, ext: {} });
      expect(lines[1]).toEqual({ closed: true });
      expect(events).toContainEqual(expect.objectContaining({ kind: 'badMessage', code: 'duplicateExtension' }));
      expect(events).toContainEqual(expect.objectContaining({ kind: 'framingError', reason: expect.stringContaining('sadb_msg_len 0') }));

      // A wrong version on the stream is lost sync: closed too.
      const desync = await localClient();
      desync.socket.write(Uint8Array.from([7, 1, 0, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      await desync.closed;
      expect(events.filter((e) => e.kind === 'framingError')).toHaveLength(2);

      // Everyone else is still served, and a new process can still run the whole sequence.
      bystander.socket.write(encodePfKey({ type: 'REGISTER', satype: SADB_SATYPE.AH, errno: 0, seq: 11, pid: 1, ext: {} }));
      expect(await bystander.next()).toMatchObject({ type: 'REGISTER', seq: 11, errno: 0 });
      sad.list().forEach((s) => sad.remove(s));
      const again = await runClient('sequence');
      expect(again.map((l) => l.errno)).toEqual([0, 0, 0, 0, 0, 0]);
      bystander.socket.destroy();
      await bystander.closed;
      await settle();
      expect(server.clients()).toEqual([]);
    });
  });
});

describe('write-ahead: a service with settled() gets its replies held until its changes are durable', () => {
  let gate: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };
  const open = () => {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    gate = { promise, resolve, reject };
  };
  const held: PfKeySocketEvent[] = [];
  let port: SadPort;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfkey-wa-'));
    path = join(dir, 'pfkey.sock');
    port = memorySadPort();
    let seed = 7;
    const inner = new PfKeyEndpoint({ sad: port, random: (n) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n });
    open();
    // A durable change is one whose gate opened: what a journal-backed SAD port would await.
    const service = {
      connect: (id: string) => inner.connect(id),
      disconnect: (id: string) => inner.disconnect(id),
      handleBytes: (b: Uint8Array, from: string, nowMs: number) => inner.handleBytes(b, from, nowMs),
      settled: () => gate.promise,
    };
    server = await servePfKeyUnix({ path, service, log: (e) => held.push(e) });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const getspi = (seq: number) =>
    encodePfKey({ type: 'GETSPI', satype: SADB_SATYPE.ESP, errno: 0, seq, pid: 3, ext: { addressSrc: { proto: 255, prefixlen: 32, addr: inet([192, 0, 2, 1]) }, addressDst: { proto: 255, prefixlen: 32, addr: inet([192, 0, 2, 2]) }, spiRange: { min: 0x10000, max: 0x1ffff } } });

  it('no reply before settled() resolves; then every held reply, in request order', async () => {
    const c = await localClient();
    c.socket.write(getspi(1));
    c.socket.write(getspi(2));
    await settle(100);
    // The SAD port already holds both larval SAs (the decision is made), the client heard nothing.
    expect(port.list()).toHaveLength(2);
    expect(c.inbox).toHaveLength(0);
    gate.resolve();
    expect([(await c.next()).seq, (await c.next()).seq]).toEqual([1, 2]);
    c.socket.destroy();
    await c.closed;
  });

  it('a change that never became durable closes the connection, with no reply and a logged reason', async () => {
    open();
    const c = await localClient();
    c.socket.write(getspi(3));
    await settle(50);
    gate.reject(new Error('version conflict on sa-9'));
    await c.closed;
    expect(c.inbox).toHaveLength(0);
    expect(held).toContainEqual(expect.objectContaining({ kind: 'serviceError', reason: 'not durable: version conflict on sa-9' }));
  });
});
