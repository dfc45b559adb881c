/**
 * The gateway's local control socket: newline-delimited JSON over a Unix-domain socket, one
 * request per line (`{"cmd": "status"}`), one response per line (`{"ok": true, ...}` or
 * `{"ok": false, "error": "..."}`). The swanctl-like verbs of the CLI issue talk to it; tests
 * use it to inject NIC faults.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';

export type ControlHandler = (request: { cmd: string; [arg: string]: unknown }) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * Serves `handlers` on `path` (removed first if a stale socket is there; mode 0600 via umask).
 *
 * @example
 * const server = await serveControl('/run/ipsec-es/a.sock', { status: () => running.status() });
 */
export async function serveControl(path: string, handlers: Record<string, ControlHandler>): Promise<Server> {
  await rm(path, { force: true });
  const server = createServer((socket) => {
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        void answer(line).then((reply) => socket.write(`${JSON.stringify(reply)}\n`));
      }
    });
    socket.on('error', () => socket.destroy());
  });
  const answer = async (line: string): Promise<Record<string, unknown>> => {
    let request: { cmd?: unknown };
    try {
      request = JSON.parse(line) as { cmd?: unknown };
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    const handler = typeof request.cmd === 'string' ? handlers[request.cmd] : undefined;
    if (!handler) return { ok: false, error: `unknown command ${JSON.stringify(request.cmd)}; known: ${Object.keys(handlers).join(', ')}` };
    try {
      return { ok: true, ...(await handler(request as { cmd: string })) };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  };
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
  } finally {
    process.umask(mask);
  }
  return server;
}

/** The control socket could not be reached, or did not answer in time. */
export class ControlUnreachable extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`control socket ${path}: ${reason}`);
    this.name = 'ControlUnreachable';
  }
}

/**
 * One request to a control socket. Rejects with `ControlUnreachable` when nothing listens there
 * (no such socket, connection refused) or no answer comes within `timeoutMs`.
 *
 * @example
 * const status = await controlRequest('/run/ipsec-es/a.sock', { cmd: 'status' });
 */
export function controlRequest(path: string, request: { cmd: string; [arg: string]: unknown }, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new ControlUnreachable(path, `no answer within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
      } catch {
        reject(new ControlUnreachable(path, 'the answer is not JSON: is this an ipsec-es control socket?'));
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new ControlUnreachable(path, e.code ?? e.message)); });
  });
}
