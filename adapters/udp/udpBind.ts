/**
 * The real `DatagramBind`: one unconnected node:dgram socket, IPv4 or IPv6 (or dual-stack), with
 * 4 MiB send and receive buffers by default and every error turned into a counter and an event.
 *
 * Why these choices (measured on this host, Linux 6.18, Node 20):
 * - Buffers: a burst of 20 000 datagrams of 1400 octets sent from another thread to loopback
 *   lost 7.6-12.8 % into the kernel's default 208 KiB receive buffer, none into 4 MiB (the
 *   kernel reports 8 MiB: Linux doubles SO_RCVBUF for its bookkeeping). The kernel caps the
 *   request at net.core.rmem_max; `buffers.recv.clamped` says so.
 * - Unconnected: a connected UDP socket turns the peer's ICMP port unreachable into an
 *   `'error'` event, and an `'error'` event without a handler ends the process. This bind never
 *   connects (it serves many peers), so Linux reports no ICMP errors on it (`__udp4_lib_err`
 *   only does for connected sockets), and it handles `'error'` anyway: counted, never thrown.
 * - Addresses are IP literals, resolved by a synchronous lookup: no DNS per datagram, and a
 *   send reaches the kernel (`uv_udp_try_send`) before `send` returns unless the socket's queue
 *   is full.
 * - Receive batches: libuv reads up to 32 datagrams per readiness and Node emits one
 *   `'message'` each; they are gathered until the event loop's check phase (`setImmediate`) or
 *   `maxBatch`, then handed over as one batch.
 */
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { endianness } from 'node:os';
import { IpsecError } from '../../engine/errors.js';
import { NAT_T_PORT } from '../../engine/packet/udpEncap.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import type { Datagram, DatagramBind, DatagramBindCounters, DatagramBindEvent, SocketBufferSize, UdpBindOptions } from './types.js';

/**
 * The default send and receive buffer size: 4 MiB.
 *
 * @example
 * await udpBind({ address: '0.0.0.0', recvBufferSize: 2 * DEFAULT_SOCKET_BUFFER });
 */
export const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

/**
 * The node:dgram bind: the port plus what only a real socket has.
 *
 * @example
 * const bind: UdpBind = await udpBind({ address: '192.0.2.1' }); console.log(bind.buffers.recv.actual, await bind.kernelDrops());
 */
export interface UdpBind extends DatagramBind {
  readonly family: 4 | 6;
  /** Requested and granted buffer sizes. */
  readonly buffers: { readonly recv: SocketBufferSize; readonly send: SocketBufferSize };
  /**
   * Datagrams the kernel dropped on this socket because its receive buffer was full (the
   * `drops` column of /proc/net/udp or udp6). `undefined` where that file does not exist or
   * once the bind is closed.
   */
  kernelDrops(): Promise<number | undefined>;
  /** The socket itself, for options this port does not cover (TTL, DSCP, ...). Do not close or connect it. */
  readonly socket: dgram.Socket;
}

/**
 * A fresh set of bind counters, all zero.
 *
 * @example
 * const counters = newBindCounters(); counters.sent++;
 */
export function newBindCounters(): DatagramBindCounters {
  return { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, receiveBatches: 0, sendErrors: 0, socketErrors: 0, receiverErrors: 0, unclaimed: 0 };
}

/**
 * The error every use of a closed bind throws.
 *
 * @example
 * if (closed) throw bindClosed('127.0.0.1', 4500);
 */
export function bindClosed(address: string, port: number): IpsecError {
  return new IpsecError('bind.closed', `UDP bind ${endpointText(address, port)} is closed: it cannot send or receive after close()`);
}

/**
 * `address:port`, bracketing IPv6.
 *
 * @example
 * endpointText('::1', 4500) // '[::1]:4500'
 */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * One list of listeners, each call guarded: a throwing listener cannot break the bind.
 *
 * @example
 * const events = eventEmitter(); events.on((e) => console.log(e.kind)); events.emit({ kind: 'socketError', code: 'EIO', message: 'x' });
 */
export function eventEmitter(): { on(listener: (e: DatagramBindEvent) => void): () => void; emit(e: DatagramBindEvent): void } {
  const listeners = new Set<(e: DatagramBindEvent) => void>();
  return {
    on(listener) {
      if (typeof listener !== 'function') throw new TypeError('listener: must be a function');
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emit(e) {
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // A listener's failure is its own; the data path goes on.
        }
      }
    },
  };
}

/**
 * A port number a datagram may be sent to: 1..65535 (0 is not a destination, RFC 768).
 *
 * @example
 * if (!isSendPort(d.port)) counters.sendErrors++;
 */
export function isSendPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 0xffff;
}

const errno = (code: string, message: string, address?: string, port?: number): Error & { code: string; address?: string; port?: number } =>
  Object.assign(new Error(message), { code, ...(address !== undefined ? { address } : {}), ...(port !== undefined ? { port } : {}) });

/**
 * The checked common options of a bind (`udpBind`, `nativeUdpBind`): an IP literal, a port
 * (default 4500) and the buffer sizes to ask for; TypeError/RangeError naming the option.
 *
 * @example
 * const { address, family, port } = checkBindOptions({ address: '0.0.0.0' });
 */
export function checkBindOptions(options: UdpBindOptions): { address: string; family: 4 | 6; port: number; recvRequested: number | 'system'; sendRequested: number | 'system' } {
  const address = options.address;
  const family = typeof address === 'string' ? isIP(address) : 0;
  if (family !== 4 && family !== 6) throw new TypeError(`address: must be an IPv4 or IPv6 literal, got ${String(address)}`);
  const port = options.port ?? NAT_T_PORT;
  if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff)) throw new RangeError(`port: must be an integer in [0, 65535], got ${port}`);
  return { address, family, port, recvRequested: checkBufferOption(options.recvBufferSize, 'recvBufferSize'), sendRequested: checkBufferOption(options.sendBufferSize, 'sendBufferSize') };
}

function checkBufferOption(value: number | 'system' | undefined, name: string): number | 'system' {
  if (value === undefined) return DEFAULT_SOCKET_BUFFER;
  if (value === 'system' || (Number.isInteger(value) && value > 0 && value <= 0x7fffffff)) return value;
  throw new RangeError(`${name}: must be a positive integer or 'system', got ${String(value)}`);
}

/**
 * Opens an unconnected UDP socket on `address`:`port` (default 4500). Resolves once bound;
 * rejects with `IpsecError('bind.failed')` (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...) and throws
 * `TypeError`/`RangeError` naming the option on misuse.
 *
 * @example
 * const bind = await udpBind({ address: '0.0.0.0' });      // 0.0.0.0:4500, 4 MiB buffers
 * if (bind.buffers.recv.clamped) console.warn('raise net.core.rmem_max');
 * bind.onReceive((batch) => wire.receive(batch));
 */
export async function udpBind(options: UdpBindOptions): Promise<UdpBind> {
  const { address, family, port, recvRequested, sendRequested } = checkBindOptions(options);
  const maxBatch = options.maxBatch ?? 256;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new RangeError(`maxBatch: must be a positive integer, got ${maxBatch}`);
  const dualStack = family === 6 && options.ipv6Only === false;

  // Destinations are IP literals of the socket's family; anything else fails that one send.
  const lookup = (host: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void): void => {
    if (isIP(host) === family) callback(null, host, family);
    else callback(errno('EINVAL', `${host} is not an IPv${family} address`, host), host, family);
  };
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ...(family === 6 ? { ipv6Only: !dualStack } : {}), lookup: lookup as dgram.SocketOptions['lookup'] });

  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error & { code?: string }) => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      reject(new IpsecError('bind.failed', `UDP bind ${endpointText(address, port)}: ${e.code ?? e.message}`, { cause: e }));
    };
    socket.once('error', failed);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', failed);
      resolve();
    });
  });

  const counters = newBindCounters();
  const events = eventEmitter();
  const localPort = socket.address().port;

  // Never let an 'error' event reach the process: count it, report it.
  socket.on('error', (e: Error & { code?: string }) => {
    counters.socketErrors++;
    events.emit({ kind: 'socketError', code: e.code ?? 'EUNKNOWN', message: e.message });
  });

  const buffer = (kind: 'recv' | 'send', requested: number | 'system'): SocketBufferSize => {
    if (requested !== 'system') {
      try {
        if (kind === 'recv') socket.setRecvBufferSize(requested);
        else socket.setSendBufferSize(requested);
      } catch {
        // The kernel refused outright: the actual size below tells what is left.
      }
    }
    const actual = kind === 'recv' ? socket.getRecvBufferSize() : socket.getSendBufferSize();
    return { requested, actual, clamped: requested !== 'system' && actual < requested };
  };
  const buffers = { recv: buffer('recv', recvRequested), send: buffer('send', sendRequested) };

  let receiver: ((batch: Datagram[]) => void) | undefined;
  let pending: Datagram[] = [];
  let scheduled = false;
  let closing: Promise<void> | undefined;

  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    if (receiver === undefined) {
      counters.unclaimed += batch.length;
      return;
    }
    counters.received += batch.length;
    for (let i = 0; i < batch.length; i++) counters.receivedBytes += batch[i]!.data.length;
    counters.receiveBatches++;
    try {
      receiver(batch);
    } catch (error) {
      counters.receiverErrors++;
      events.emit({ kind: 'receiverError', error });
    }
  };

  socket.on('message', (data: Buffer, rinfo: dgram.RemoteInfo) => {
    if (receiver === undefined) {
      counters.unclaimed++;
      return;
    }
    let from = rinfo.address;
    // A dual-stack socket sees IPv4 peers as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2); report them as IPv4.
    if (dualStack && from.startsWith('::ffff:') && isIP(from.slice(7)) === 4) from = from.slice(7);
    pending.push({ data, address: from, port: rinfo.port });
    if (pending.length >= maxBatch) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });

  const sendFailed = (address: string, port: number, code: string, message: string): void => {
    counters.sendErrors++;
    events.emit({ kind: 'sendError', address, port, code, message });
  };
  // One callback for every send: a callback is what makes Node report a send's failure at all
  // (without one, a synchronous EINVAL or EMSGSIZE is silently ignored).
  const afterSend = (err: (Error & { code?: string; address?: string; port?: number }) | null, bytes?: number): void => {
    if (err) sendFailed(err.address ?? '', err.port ?? 0, err.code ?? 'EUNKNOWN', err.message);
    else {
      counters.sent++;
      counters.sentBytes += bytes ?? 0;
    }
  };

  const bind: UdpBind = {
    family,
    buffers,
    socket,
    localAddress: address,
    localPort,
    get closed() {
      return closing !== undefined;
    },
    counters,
    send(batch) {
      if (closing) throw bindClosed(address, localPort);
      for (let i = 0; i < batch.length; i++) {
        const d = batch[i]!;
        if (!isSendPort(d.port)) {
          sendFailed(d.address, d.port, 'EINVAL', `port must be an integer in [1, 65535], got ${d.port}`);
          continue;
        }
        let to = d.address;
        if (dualStack && typeof to === 'string' && !to.includes(':')) to = `::ffff:${to}`;
        try {
          socket.send(d.data, d.port, to, afterSend);
        } catch (e) {
          // Node throws synchronously on a non-buffer `data` and the like: that datagram fails.
          const err = e as Error & { code?: string };
          sendFailed(String(d.address), d.port, err.code ?? 'EINVAL', err.message);
        }
      }
    },
    onReceive(r) {
      if (closing) throw bindClosed(address, localPort);
      if (typeof r !== 'function') throw new TypeError('receiver: must be a function');
      receiver = r;
    },
    onEvent(listener) {
      return events.on(listener);
    },
    close() {
      if (closing) return closing;
      flush(); // what already arrived is delivered
      receiver = undefined;
      closing = new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
      return closing;
    },
    async kernelDrops() {
      if (closing) return undefined;
      return readKernelDrops(family, address, localPort);
    },
  };
  return bind;
}

/** The address as /proc/net/udp{,6} prints it: 32-bit words in host byte order, hex. */
function procAddress(address: string): string | undefined {
  const parsed = parseIpAddress(address);
  if (!parsed.ok) return undefined;
  const little = endianness() === 'LE';
  let out = '';
  for (let w = 0; w < parsed.value.length; w += 4) {
    const word = Array.from(parsed.value.subarray(w, w + 4));
    if (little) word.reverse();
    out += word.map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  return out.toUpperCase();
}

async function readKernelDrops(family: 4 | 6, address: string, port: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(family === 6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  } catch {
    return undefined;
  }
  const local = `${procAddress(address) ?? ''}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st ... drops (the last column)
    if (fields[1] === local) return Number(fields[fields.length - 1]);
  }
  return undefined;
}
