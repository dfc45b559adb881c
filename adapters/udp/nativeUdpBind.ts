/**
 * A `DatagramBind` with batched syscalls: one unconnected UDP socket of our own N-API addon
 * (native/tun/udp.c, built into the TUN addon by scripts/build-native.mjs), where node:dgram
 * makes one sendmsg(2) plus Node's per-send work per datagram (measured: `doSend` ~26 % of a
 * gateway's CPU under iperf3, 8.4 µs a datagram).
 * - send: one `sendmmsg(2)` per batch (256 datagrams per call), synchronously: the kernel has
 *   copied the bytes when `send` returns, and `counters.sent` has moved.
 * - receive: the socket is watched with libuv's uv_poll (epoll, level-triggered) like the TUN
 *   reader; each wake-up makes one `recvmmsg(2)` of up to `maxBatch` (default 64) datagrams and
 *   hands them to the receiver as one batch, copied into one fresh ArrayBuffer per batch: each
 *   `data` is a non-overlapping view the receiver owns (the port's rule).
 * - errors: nothing throws out of `send` or the receive path. Per-datagram failures (bad port or
 *   address, EMSGSIZE, ENETUNREACH, ...) are `sendErrors` plus a `sendError` event. EAGAIN (the
 *   send buffer is full) is not retried: that datagram and the rest of that `send` call are
 *   counted as send errors with code EAGAIN, as a full queue would drop them; with 4 MiB
 *   buffers it needs several thousand datagrams queued in the kernel. Receive errors are
 *   `socketErrors` plus a `socketError` event; the socket is never connected, so ICMP errors
 *   (ECONNREFUSED) are not reported on it, and would be counted anyway.
 * - IPv4, IPv6, and dual-stack (`::` with `ipv6Only: false`; IPv4 peers reported as dotted quads)
 *   as `udpBind` does; 4 MiB SO_RCVBUF / SO_SNDBUF by default, granted sizes in `buffers`.
 *
 * Linux only. Where the addon is missing `nativeUdpBind` rejects with
 * `IpsecError('bind.nativeUnavailable')`: fall back to `udpBind`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import { IpsecError } from '../../engine/errors.js';
import type { Datagram, DatagramBind, SocketBufferSize, UdpBindOptions } from './types.js';
import { bindClosed, checkBindOptions, endpointText, eventEmitter, isSendPort, newBindCounters } from './udpBind.js';

/**
 * Where the addon holding the native UDP socket is built (the TUN addon: one build for both).
 *
 * @example
 * const built = existsSync(new URL(`../${NATIVE_UDP_ADDON_PATH}`, import.meta.url));
 */
export const NATIVE_UDP_ADDON_PATH = 'native/tun/build/Release/ipsec_es_tun.node';

/** Most datagrams one recvmmsg(2) may take (UIO_MAXIOV, the kernel's cap on vlen). */
const MAX_BATCH = 1024;
const META_INTS = 8;
/** RFC 768 over IPv4 (65535 - 20 - 8) and IPv6 without jumbograms (65535 - 8). */
const MAX_PAYLOAD_V4 = 65_507;
const MAX_PAYLOAD_V6 = 65_527;

/**
 * The native bind: the port plus what a real socket has.
 *
 * @example
 * const bind: NativeUdpBind = await nativeUdpBind({ address: '0.0.0.0' }); console.log(bind.buffers.recv.actual, await bind.kernelDrops());
 */
export interface NativeUdpBind extends DatagramBind {
  readonly family: 4 | 6;
  /** Requested and granted buffer sizes (Linux reports twice the request; see `SocketBufferSize`). */
  readonly buffers: { readonly recv: SocketBufferSize; readonly send: SocketBufferSize };
  /** Most datagrams per receive batch (one recvmmsg(2)). */
  readonly maxBatch: number;
  /** Datagrams the kernel dropped on this socket (receive buffer full), from SO_MEMINFO; `undefined` once closed. */
  kernelDrops(): Promise<number | undefined>;
}

type Handle = object;
interface UdpAddon {
  open(family: 4 | 6, address: string, port: number, v6only: boolean, rcvbuf: number, sndbuf: number): [Handle, number, number, number];
  start(socket: Handle, maxBatch: number, meta: Int32Array, onWake: (count: number, errno: number, data: ArrayBuffer | undefined) => void): void;
  send(socket: Handle, datas: readonly Uint8Array[], addresses: readonly string[], ports: Int32Array, count: number, errnos: Int32Array): number;
  addressText(meta: Int32Array, slot: number): string;
  drops(socket: Handle): number;
  close(socket: Handle, onClosed: (errno: number) => void): void;
}
type AddonError = Error & { errno?: number; syscall?: string };

let addon: UdpAddon | undefined;

function loadAddon(): UdpAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') throw new IpsecError('bind.nativeUnavailable', `the native UDP bind needs Linux (sendmmsg/recvmmsg); this is ${process.platform}: use udpBind`);
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.IPSEC_ES_TUN_ADDON, resolve(here, '../..', NATIVE_UDP_ADDON_PATH), resolve(here, '../../..', NATIVE_UDP_ADDON_PATH)];
  const file = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (file === undefined) {
    throw new IpsecError('bind.nativeUnavailable', `the native UDP bind's addon is not built (${NATIVE_UDP_ADDON_PATH}): run \`npm run build:native\` (make, a C compiler, python3, Node's headers), or use udpBind`);
  }
  const loaded = createRequire(import.meta.url)(file) as { udp?: UdpAddon };
  if (loaded.udp === undefined) throw new IpsecError('bind.nativeUnavailable', `${file} has no UDP socket (built before native/tun/udp.c): run \`npm run build:native\`, or use udpBind`);
  addon = loaded.udp;
  return addon;
}

const SYSTEM_ERRORS = getSystemErrorMap();
/** [code, text] of a positive errno: `['EAGAIN', 'resource temporarily unavailable']`. */
function errnoInfo(errno: number): [string, string] {
  return SYSTEM_ERRORS.get(-errno) ?? [`errno ${errno}`, `errno ${errno}`];
}


/**
 * Opens an unconnected UDP socket on `address`:`port` (default 4500) through the addon, with
 * batched sends (sendmmsg) and receives (recvmmsg). Takes `udpBind`'s options; `maxBatch` is
 * the most datagrams per receive batch here (default 64, at most 1024). Rejects with
 * `IpsecError('bind.nativeUnavailable')` when the addon is not built (fall back to `udpBind`),
 * `IpsecError('bind.failed')` when the socket cannot be bound (EADDRINUSE, ...), and throws
 * `TypeError`/`RangeError` naming the option on misuse.
 *
 * @example
 * const bind = await nativeUdpBind({ address: '0.0.0.0' }).catch((e) =>
 *   e instanceof IpsecError && e.code === 'bind.nativeUnavailable' ? udpBind({ address: '0.0.0.0' }) : Promise.reject(e));
 * bind.onReceive((batch) => wire.receive(batch));
 */
export async function nativeUdpBind(options: UdpBindOptions): Promise<NativeUdpBind> {
  const { address, family, port, recvRequested, sendRequested } = checkBindOptions(options);
  const maxBatch = options.maxBatch === undefined ? 64 : Math.min(options.maxBatch, MAX_BATCH);
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new RangeError(`maxBatch: must be a positive integer, got ${String(options.maxBatch)}`);
  const dualStack = family === 6 && options.ipv6Only === false;
  const udp = loadAddon();

  let opened: [Handle, number, number, number];
  try {
    opened = udp.open(family, address, port, !dualStack, recvRequested === 'system' ? 0 : recvRequested, sendRequested === 'system' ? 0 : sendRequested);
  } catch (e) {
    const error = e as AddonError;
    const [code] = errnoInfo(error.errno ?? 0);
    throw new IpsecError('bind.failed', `cannot bind UDP ${endpointText(address, port)}: ${error.syscall ?? 'bind'}: ${code} (${error.message.replace(/^[^:]*: /, '')})`, { cause: error });
  }
  const [handle, localPort, recvActual, sendActual] = opened;
  const buffer = (requested: number | 'system', actual: number): SocketBufferSize => ({ requested, actual, clamped: requested !== 'system' && actual < requested });
  const buffers = { recv: buffer(recvRequested, recvActual), send: buffer(sendRequested, sendActual) };

  const counters = newBindCounters();
  const events = eventEmitter();
  let receiver: ((batch: Datagram[]) => void) | undefined;
  let closing: Promise<void> | undefined;

  // Receive: meta[8i..] = [length, port, family, msg_flags, address words]; the text of the last
  // few peers is cached (a gateway hears from few peers), keyed by the address words.
  const meta = new Int32Array(maxBatch * META_INTS);
  const texts = new Map<string | number, string>();
  const addressOf = (slot: number): string => {
    const m = slot * META_INTS;
    const key = meta[m + 2] === 4 ? meta[m + 4]! : `${meta[m + 4]},${meta[m + 5]},${meta[m + 6]},${meta[m + 7]}`;
    let text = texts.get(key);
    if (text === undefined) {
      if (texts.size >= 1024) texts.clear();
      text = udp.addressText(meta, slot);
      texts.set(key, text);
    }
    return text;
  };
  const onWake = (count: number, errno: number, data: ArrayBuffer | undefined): void => {
    if (closing) return;
    if (errno !== 0) {
      counters.socketErrors++;
      const [code, text] = errnoInfo(errno);
      events.emit({ kind: 'socketError', code, message: `recvmmsg on ${endpointText(address, localPort)}: ${text}` });
    }
    if (count === 0 || data === undefined) return;
    if (receiver === undefined) {
      counters.unclaimed += count;
      return;
    }
    const batch: Datagram[] = new Array(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = meta[i * META_INTS]!;
      batch[i] = { data: new Uint8Array(data, offset, length), address: addressOf(i), port: meta[i * META_INTS + 1]! };
      offset += length;
    }
    counters.received += count;
    counters.receivedBytes += offset;
    counters.receiveBatches++;
    try {
      receiver(batch);
    } catch (error) {
      counters.receiverErrors++;
      events.emit({ kind: 'receiverError', error });
    }
  };
  udp.start(handle, maxBatch, meta, onWake);

  // Send: parallel arrays for the addon, reused; errnos[i] in: 0 = send, else refused here.
  let capacity = 0;
  let ports = new Int32Array(0);
  let errnos = new Int32Array(0);
  const datas: Uint8Array[] = [];
  const addresses: string[] = [];
  const sendFailed = (to: string, toPort: number, code: string, message: string): void => {
    counters.sendErrors++;
    events.emit({ kind: 'sendError', address: to, port: toPort, code, message });
  };

  const bind: NativeUdpBind = {
    family,
    buffers,
    maxBatch,
    localAddress: address,
    localPort,
    get closed() {
      return closing !== undefined;
    },
    counters,
    send(batch) {
      if (closing) throw bindClosed(address, localPort);
      const n = batch.length;
      if (n === 0) return;
      if (n > capacity) {
        capacity = Math.max(n, capacity * 2, 64);
        ports = new Int32Array(capacity);
        errnos = new Int32Array(capacity);
      }
      datas.length = n;
      addresses.length = n;
      let candidates = 0;
      for (let i = 0; i < n; i++) {
        const d = batch[i]!;
        datas[i] = d.data;
        addresses[i] = d.address;
        ports[i] = d.port;
        let refused = 0;
        let why = '';
        if (!isSendPort(d.port)) {
          refused = 22;
          why = `port must be an integer in [1, 65535], got ${d.port}`;
        } else if (!(d.data instanceof Uint8Array)) {
          refused = 22;
          why = 'data must be a Uint8Array';
        } else if (typeof d.address !== 'string') {
          refused = 22;
          why = `${String(d.address)} is not an IP address`;
        } else if (d.data.length > (d.address.includes(':') ? MAX_PAYLOAD_V6 : MAX_PAYLOAD_V4)) {
          refused = 90;
          why = `${d.data.length} octets exceed the UDP maximum of ${d.address.includes(':') ? MAX_PAYLOAD_V6 : MAX_PAYLOAD_V4}`;
        }
        errnos[i] = refused;
        if (refused !== 0) {
          // 22 = EINVAL, 90 = EMSGSIZE on Linux (the only platform this runs on).
          sendFailed(String(d.address), d.port, refused === 22 ? 'EINVAL' : 'EMSGSIZE', why);
          datas[i] = EMPTY;
          addresses[i] = '';
        } else candidates++;
      }
      if (candidates > 0) {
        let thrown: AddonError | undefined;
        try {
          udp.send(handle, datas, addresses, ports, n, errnos);
        } catch (e) {
          // Only misuse of the addon throws (it cannot, given these arrays): fail what was pending.
          thrown = e as AddonError;
        }
        for (let i = 0; i < n; i++) {
          if (datas[i] === EMPTY) continue; // refused above, already reported
          const e = thrown !== undefined ? thrown.errno ?? 5 : errnos[i]!;
          if (e === 0) {
            counters.sent++;
            counters.sentBytes += datas[i]!.length;
            continue;
          }
          const d = batch[i]!;
          const [code, text] = errnoInfo(e);
          const message =
            thrown !== undefined ? thrown.message : e === 22 ? `${d.address} is not an IPv${dualStack ? '4 or IPv6' : family} address` : `sendmmsg to ${endpointText(d.address, d.port)}: ${text}`;
          sendFailed(d.address, d.port, code, message);
        }
      }
      datas.fill(EMPTY); // hold no caller's bytes past the call
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
      receiver = undefined;
      closing = new Promise<void>((resolvePromise) => {
        try {
          udp.close(handle, () => resolvePromise());
        } catch {
          resolvePromise();
        }
      });
      return closing;
    },
    async kernelDrops() {
      if (closing) return undefined;
      return udp.drops(handle);
    },
  };
  return bind;
}

const EMPTY = new Uint8Array(0);
