/**
 * Serves a `PfKeyEndpoint` on a Unix-domain stream socket, so an external key manager can drive
 * the SAD with PF_KEY v2 messages (RFC 2367). Frames are PF_KEY messages delimited by
 * `sadb_msg_len` (see `PfKeyFrameReader`). Each connection is one PF_KEY client: its replies are
 * written in request order, broadcasts go to the other connections the endpoint names. A
 * connection whose framing breaks is closed with a logged reason; nothing a client sends stops the
 * server or the other connections.
 *
 * Write-ahead (DESIGN §3): a service whose changes become facts before they take effect says so
 * with `settled()`; the server then holds each request's replies and broadcasts until the changes
 * of every request so far are durable, in request order, so no key manager hears "done" of a
 * change that is not on record.
 */

import { unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { encodePfKey } from '../../engine/pfkey/encode.js';
import type { Broadcast, ClientId, EncodedOutput } from '../../engine/pfkey/endpoint.js';
import { PfKeyFrameReader } from './frameReader.js';

/** The part of `PfKeyEndpoint` the socket needs. */
export interface PfKeyService {
  connect(id: ClientId): void;
  disconnect(id: ClientId): void;
  handleBytes(bytes: Uint8Array, from: ClientId, nowMs: number): EncodedOutput;
  /**
   * Resolves once every change made by the requests handled so far is durable (e.g. SA facts a
   * journal appended). Optional: without it replies go out at once. A rejection closes the
   * requester's connection with a `serviceError`: its reply would claim an unrecorded change.
   */
  settled?(): Promise<void>;
}

/** What the server reports; `reason` is human-readable. */
export type PfKeySocketEvent =
  | { kind: 'connected'; client: ClientId }
  | { kind: 'disconnected'; client: ClientId }
  | { kind: 'framingError'; client: ClientId; reason: string }
  | { kind: 'badMessage'; client: ClientId; code: string; reason: string }
  | { kind: 'socketError'; client: ClientId; reason: string }
  | { kind: 'serviceError'; client: ClientId; reason: string };

export interface PfKeyUnixServerOptions {
  /** Filesystem path of the socket. */
  path: string;
  service: PfKeyService;
  /** The clock handed to the endpoint; default `Date.now`. */
  now?: () => number;
  /** Receives every event; default: framing and service errors to `console.warn`. */
  log?: (event: PfKeySocketEvent) => void;
  /** Remove a stale socket file at `path` before listening; default true. */
  unlinkStale?: boolean;
}

export interface PfKeyUnixServer {
  readonly path: string;
  /** Connected client ids. */
  clients(): ClientId[];
  /** Sends endpoint-originated broadcasts (ACQUIRE, EXPIRE from `acquire()`/`tick()`). */
  deliver(broadcasts: readonly Broadcast[]): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

function defaultLog(e: PfKeySocketEvent): void {
  if (e.kind === 'framingError' || e.kind === 'serviceError' || e.kind === 'socketError') {
    console.warn(`pfkey ${e.client}: ${e.kind}: ${e.reason}`);
  }
}

/**
 * Listens on `path` and serves the endpoint.
 *
 * @example
 * const endpoint = new PfKeyEndpoint({ sad, random });
 * const server = await servePfKeyUnix({ path: '/run/ipsec-es/pfkey.sock', service: endpoint });
 * setInterval(() => server.deliver(endpoint.tick(Date.now())), 1000);
 */
export async function servePfKeyUnix(options: PfKeyUnixServerOptions): Promise<PfKeyUnixServer> {
  const { path, service } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? defaultLog;
  const sockets = new Map<ClientId, Socket>();
  let next = 0;

  const send = (id: ClientId, bytes: Uint8Array) => {
    const s = sockets.get(id);
    if (s && !s.destroyed && s.writable) s.write(bytes);
  };

  /** Output held for `service.settled()`, in request order across connections. */
  let held = Promise.resolve();
  const afterDurable = (id: ClientId, deliver: () => void): void => {
    const settled = service.settled?.bind(service);
    if (settled === undefined) return deliver();
    held = held.then(settled).then(deliver, (e: unknown) => {
      log({ kind: 'serviceError', client: id, reason: `not durable: ${e instanceof Error ? e.message : String(e)}` });
      sockets.get(id)?.destroy();
    });
  };

  const server: Server = createServer((socket) => {
    const id: ClientId = `pfkey-${++next}`;
    const reader = new PfKeyFrameReader();
    sockets.set(id, socket);
    service.connect(id);
    log({ kind: 'connected', client: id });

    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      for (const frame of frames) {
        let out: EncodedOutput;
        try {
          out = service.handleBytes(frame, id, now());
        } catch (e) {
          log({ kind: 'serviceError', client: id, reason: e instanceof Error ? e.message : String(e) });
          socket.destroy();
          return;
        }
        if (out.decodeError) log({ kind: 'badMessage', client: id, code: out.decodeError.code, reason: out.decodeError.message });
        afterDurable(id, () => {
          for (const r of out.replies) send(id, r);
          for (const b of out.broadcasts) for (const to of b.to) if (to !== id) send(to, b.bytes);
        });
      }
      if (error) {
        log({ kind: 'framingError', client: id, reason: error });
        afterDurable(id, () => socket.destroyed || socket.end(() => socket.destroy()));
      }
    });
    socket.on('error', (e) => log({ kind: 'socketError', client: id, reason: e.message }));
    socket.on('close', () => {
      sockets.delete(id);
      service.disconnect(id);
      log({ kind: 'disconnected', client: id });
    });
  });

  if (options.unlinkStale ?? true) {
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log({ kind: 'socketError', client: 'server', reason: e.message }));

  return {
    path,
    clients: () => [...sockets.keys()],
    deliver(broadcasts: readonly Broadcast[]): void {
      for (const b of broadcasts) {
        const bytes = encodePfKey(b.msg);
        for (const to of b.to) send(to, bytes);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets.values()) s.destroy();
        server.close(() => resolve());
      }),
  };
}
