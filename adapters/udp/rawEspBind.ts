/**
 * Raw ESP: IP protocol 50 (RFC 4303) straight on IP, no UDP encapsulation, through a raw socket
 * of our own N-API addon (native/tun/raw.c, built into the TUN addon by scripts/build-native.mjs).
 *
 * `rawEspBind` is a `DatagramBind` whose datagrams are ESP packets (SPI first) and whose ports do
 * not exist: `send` ignores `port`, received datagrams carry port 0 and, beyond the port's
 * fields, `local`: the address the packet was sent to (the SAD finds an inbound SA by SPI and
 * destination, RFC 4301 §4.4.2). The rules of the port hold otherwise (buffer ownership, counted
 * failures, never a throw for what a packet or a peer does, `bind.closed` after close):
 * - send: one `sendmmsg(2)` per batch of up to 256; the kernel writes the IP header (protocol 50,
 *   the bound address or the routed source, its own TTL, no DSCP/ECN). EAGAIN is not retried, as
 *   in `nativeUdpBind`.
 * - receive: libuv's uv_poll wakes us; one `recvmmsg(2)` of up to `maxBatch` packets per wake-up,
 *   copied into one fresh ArrayBuffer per batch. IPv4 raw sockets hand over the IP header (raw(7)):
 *   the addon cuts it off by its IHL and takes the destination from it; IPv6 raw sockets hand over
 *   the payload only (RFC 3542 §3), the destination comes from IPV6_PKTINFO (RFC 3542 §6.1).
 *   The kernel reassembles fragments before raw delivery.
 * - every raw ESP socket of a namespace gets a copy of every ESP packet to its address (raw(7));
 *   bind to the WAN address so that other local addresses' ESP stays out.
 *
 * `rawEspWire` is the glue to the engine, as `udpWire` is for ESP in UDP: the engine's outer IP +
 * ESP datagrams (SAs without NAT-T) go out as ESP to the outer destination; what arrives is put
 * back behind a synthetic outer header (real addresses, protocol 50) for `processInbound`.
 *
 * Needs Linux, the addon and root or CAP_NET_RAW; otherwise `rawEspBind` rejects with
 * `IpsecError('bind.rawEspUnavailable')` saying which: use ESP in UDP (`nativeUdpBind`, `udpBind`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import { DropCounters, type DropReason } from '../../engine/dropReasons.js';
import { IpsecError } from '../../engine/errors.js';
import { parseIp } from '../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../engine/packet/ipProtocol.js';
import { IPV4_MIN_HEADER, writeIpv4Header } from '../../engine/packet/ipv4.js';
import { IPV6_HEADER, writeIpv6Header } from '../../engine/packet/ipv6.js';
import { allocPacket } from '../../engine/packetBuffer.js';
import { formatIpAddress } from '../../engine/policy/ipText.js';
import { NATIVE_UDP_ADDON_PATH } from './nativeUdpBind.js';
import type { Datagram, DatagramBind, RawEspBindOptions, SocketBufferSize } from './types.js';
import { checkBindOptions, eventEmitter, newBindCounters } from './udpBind.js';
import { addressBytes } from './wire.js';

/**
 * Where the addon holding the raw ESP socket is built (the TUN addon: one build for all three).
 *
 * @example
 * const built = existsSync(new URL(`../${RAW_ESP_ADDON_PATH}`, import.meta.url));
 */
export const RAW_ESP_ADDON_PATH = NATIVE_UDP_ADDON_PATH;

/**
 * A received raw ESP packet: `data` is SPI..ICV (no IP header), `address` the source, `port` 0,
 * `local` the destination it was sent to.
 *
 * @example
 * bind.onReceive((batch) => { for (const d of batch) sad.lookup(readEspSpi(d.data), addressBytes(d.local)); });
 */
export interface RawEspDatagram extends Datagram {
  /** The destination address of the packet: one of ours. */
  local: string;
}

/**
 * The raw ESP bind: the port, with ESP packets for datagrams and no ports.
 *
 * @example
 * const bind: RawEspBind = await rawEspBind({ family: 4, address: '192.0.2.1' }); console.log(bind.protocol, await bind.kernelDrops());
 */
export interface RawEspBind extends DatagramBind {
  /** Tells it from a UDP bind: the engine's packets go through `rawEspWire`, not `udpWire`. */
  readonly protocol: 'esp';
  readonly family: 4 | 6;
  /** Always 0: IP protocol 50 has no ports. */
  readonly localPort: number;
  /** Requested and granted buffer sizes (Linux reports twice the request). */
  readonly buffers: { readonly recv: SocketBufferSize; readonly send: SocketBufferSize };
  /** Most packets per receive batch (one recvmmsg(2)). */
  readonly maxBatch: number;
  /** The receiver gets `RawEspDatagram`s: `local` is set. */
  onReceive(receiver: (batch: RawEspDatagram[]) => void): void;
  /** Packets the kernel dropped on this socket (receive buffer full), from SO_MEMINFO; `undefined` once closed. */
  kernelDrops(): Promise<number | undefined>;
}

type Handle = object;
interface RawAddon {
  open(family: 4 | 6, address: string, rcvbuf: number, sndbuf: number, netns: string): [Handle, number, number];
  start(socket: Handle, maxBatch: number, meta: Int32Array, onWake: (count: number, errno: number, data: ArrayBuffer | undefined) => void): void;
  send(socket: Handle, datas: readonly Uint8Array[], addresses: readonly string[], count: number, errnos: Int32Array): number;
  addressText(meta: Int32Array, slot: number, which: 0 | 1): string;
  drops(socket: Handle): number;
  close(socket: Handle, onClosed: (errno: number) => void): void;
}
type AddonError = Error & { errno?: number; syscall?: string };

/** Most packets one recvmmsg(2) may take (UIO_MAXIOV). */
const MAX_BATCH = 1024;
const META_INTS = 12;
/** An IPv4 datagram is at most 65535 octets, 20 of them the header the kernel writes (RFC 791). */
const MAX_ESP_V4 = 65_535 - IPV4_MIN_HEADER;
/** An IPv6 payload is at most 65535 octets without jumbograms (RFC 8200 §3). */
const MAX_ESP_V6 = 65_535;
const EINVAL = 22;
const EMSGSIZE = 90;
const EPERM = 1;
const EACCES = 13;

let addon: RawAddon | undefined;

function unavailable(why: string): IpsecError {
  return new IpsecError('bind.rawEspUnavailable', `raw ESP (IP protocol 50) is unavailable: ${why}; use ESP in UDP (nativeUdpBind or udpBind, RFC 3948)`);
}

function loadAddon(): RawAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') throw unavailable(`it needs Linux raw sockets, this is ${process.platform}`);
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.IPSEC_ES_TUN_ADDON, resolve(here, '../..', RAW_ESP_ADDON_PATH), resolve(here, '../../..', RAW_ESP_ADDON_PATH)];
  const file = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (file === undefined) throw unavailable(`the addon is not built (${RAW_ESP_ADDON_PATH}): run \`npm run build:native\` (make, a C compiler, python3, Node's headers)`);
  const loaded = createRequire(import.meta.url)(file) as { raw?: RawAddon };
  if (loaded.raw === undefined) throw unavailable(`${file} has no raw socket (built before native/tun/raw.c): run \`npm run build:native\``);
  addon = loaded.raw;
  return addon;
}

const SYSTEM_ERRORS = getSystemErrorMap();
/** [code, text] of a positive errno: `['EPERM', 'operation not permitted']`. */
function errnoInfo(errno: number): [string, string] {
  return SYSTEM_ERRORS.get(-errno) ?? [`errno ${errno}`, `errno ${errno}`];
}

function rawClosed(address: string): IpsecError {
  return new IpsecError('bind.closed', `raw ESP bind on ${address} is closed: it cannot send or receive after close()`);
}

/**
 * Opens a raw socket of IP protocol 50 (ESP, RFC 4303) for one family, bound to `address`
 * (default every local address), with batched sends and receives and 4 MiB buffers by default.
 * Rejects with `IpsecError('bind.rawEspUnavailable')` when it cannot be had here (not Linux, the
 * addon not built, no root or CAP_NET_RAW), `IpsecError('bind.failed')` when the socket cannot be
 * bound (EADDRNOTAVAIL, a missing namespace, ...), and throws `TypeError`/`RangeError` naming
 * the option on misuse.
 *
 * @example
 * const bind = await rawEspBind({ family: 4, address: '192.0.2.1' });
 * const wire = rawEspWire({ bind, drops: gw.drops, onDatagrams: (batch) => inbound(batch) });
 * wire.send(espPackets); // the engine's outer IPv4 + ESP datagrams
 */
export async function rawEspBind(options: RawEspBindOptions): Promise<RawEspBind> {
  const family = options.family;
  if (family !== 4 && family !== 6) throw new RangeError(`family: must be 4 or 6, got ${String(family)}`);
  const address = options.address ?? (family === 4 ? '0.0.0.0' : '::');
  if (typeof address !== 'string' || isIP(address) !== family) throw new TypeError(`address: must be an IPv${family} literal, got ${String(address)}`);
  const { recvRequested, sendRequested } = checkBindOptions({ address, port: 0, ...(options.recvBufferSize !== undefined ? { recvBufferSize: options.recvBufferSize } : {}), ...(options.sendBufferSize !== undefined ? { sendBufferSize: options.sendBufferSize } : {}) });
  const maxBatch = options.maxBatch === undefined ? 64 : options.maxBatch;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1 && maxBatch <= MAX_BATCH)) throw new RangeError(`maxBatch: must be an integer in [1, ${MAX_BATCH}], got ${String(options.maxBatch)}`);
  if (options.netns !== undefined && (typeof options.netns !== 'string' || options.netns === '')) throw new TypeError(`netns: must be a path such as /run/netns/NAME, got ${String(options.netns)}`);
  const raw = loadAddon();

  let opened: [Handle, number, number];
  try {
    opened = raw.open(family, address, recvRequested === 'system' ? 0 : recvRequested, sendRequested === 'system' ? 0 : sendRequested, options.netns ?? '');
  } catch (e) {
    const error = e as AddonError;
    const [code] = errnoInfo(error.errno ?? 0);
    const detail = `${error.syscall ?? 'socket'}: ${code} (${error.message.replace(/^[^:]*: /, '')})`;
    // raw(7): only processes with CAP_NET_RAW may open raw sockets.
    if (error.syscall === 'socket' && (error.errno === EPERM || error.errno === EACCES)) throw unavailable(`a raw socket needs root or CAP_NET_RAW (${detail})`);
    throw new IpsecError('bind.failed', `cannot open raw ESP on ${address}${options.netns ? ` in ${options.netns}` : ''}: ${detail}`, { cause: error });
  }
  const [handle, recvActual, sendActual] = opened;
  const buffer = (requested: number | 'system', actual: number): SocketBufferSize => ({ requested, actual, clamped: requested !== 'system' && actual < requested });
  const buffers = { recv: buffer(recvRequested, recvActual), send: buffer(sendRequested, sendActual) };

  const counters = newBindCounters();
  const events = eventEmitter();
  let receiver: ((batch: RawEspDatagram[]) => void) | undefined;
  let closing: Promise<void> | undefined;

  // meta[12i..] = [length, 0, family, msg_flags, source words 0..3, destination words 0..3]; the
  // text of recent addresses is cached (a gateway hears from few peers on few addresses).
  const meta = new Int32Array(maxBatch * META_INTS);
  const texts = new Map<string | number, string>();
  const addressOf = (slot: number, which: 0 | 1): string => {
    const m = slot * META_INTS + 4 + 4 * which;
    const key = family === 4 ? meta[m]! : `${meta[m]},${meta[m + 1]},${meta[m + 2]},${meta[m + 3]}`;
    let text = texts.get(key);
    if (text === undefined) {
      if (texts.size >= 1024) texts.clear();
      text = raw.addressText(meta, slot, which);
      texts.set(key, text);
    }
    return text;
  };
  const onWake = (count: number, errno: number, data: ArrayBuffer | undefined): void => {
    if (closing) return;
    if (errno !== 0) {
      counters.socketErrors++;
      const [code, text] = errnoInfo(errno);
      events.emit({ kind: 'socketError', code, message: `recvmmsg on raw ESP ${address}: ${text}` });
    }
    if (count === 0 || data === undefined) return;
    if (receiver === undefined) {
      counters.unclaimed += count;
      return;
    }
    const batch: RawEspDatagram[] = new Array(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = meta[i * META_INTS]!;
      batch[i] = { data: new Uint8Array(data, offset, length), address: addressOf(i, 0), port: 0, local: addressOf(i, 1) };
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
  raw.start(handle, maxBatch, meta, onWake);

  let errnos = new Int32Array(0);
  const datas: Uint8Array[] = [];
  const addresses: string[] = [];
  const maxEsp = family === 4 ? MAX_ESP_V4 : MAX_ESP_V6;
  const sendFailed = (to: string, code: string, message: string): void => {
    counters.sendErrors++;
    events.emit({ kind: 'sendError', address: to, port: 0, code, message });
  };

  return {
    protocol: 'esp',
    family,
    buffers,
    maxBatch,
    localAddress: address,
    localPort: 0,
    get closed() {
      return closing !== undefined;
    },
    counters,
    send(batch) {
      if (closing) throw rawClosed(address);
      const n = batch.length;
      if (n === 0) return;
      if (n > errnos.length) errnos = new Int32Array(Math.max(n, errnos.length * 2, 64));
      datas.length = n;
      addresses.length = n;
      let candidates = 0;
      for (let i = 0; i < n; i++) {
        const d = batch[i]!;
        let refused = 0;
        let why = '';
        if (!(d.data instanceof Uint8Array)) {
          refused = EINVAL;
          why = 'data must be a Uint8Array';
        } else if (typeof d.address !== 'string' || isIP(d.address) !== family) {
          refused = EINVAL;
          why = `${String(d.address)} is not an IPv${family} address`;
        } else if (d.data.length > maxEsp) {
          refused = EMSGSIZE;
          why = `${d.data.length} octets exceed the largest ESP packet over IPv${family}, ${maxEsp}`;
        }
        errnos[i] = refused;
        if (refused !== 0) {
          sendFailed(String(d.address), refused === EINVAL ? 'EINVAL' : 'EMSGSIZE', why);
          datas[i] = EMPTY;
          addresses[i] = '';
        } else {
          datas[i] = d.data;
          addresses[i] = d.address;
          candidates++;
        }
      }
      if (candidates > 0) {
        let thrown: AddonError | undefined;
        try {
          raw.send(handle, datas, addresses, n, errnos);
        } catch (e) {
          thrown = e as AddonError; // misuse of the addon only; fail what was pending
        }
        for (let i = 0; i < n; i++) {
          if (datas[i] === EMPTY && addresses[i] === '') continue; // refused above, already reported
          const e = thrown !== undefined ? thrown.errno ?? 5 : errnos[i]!;
          if (e === 0) {
            counters.sent++;
            counters.sentBytes += datas[i]!.length;
            continue;
          }
          const [code, text] = errnoInfo(e);
          sendFailed(addresses[i]!, code, thrown !== undefined ? thrown.message : `sendmmsg of ESP to ${addresses[i]}: ${text}`);
        }
      }
      datas.fill(EMPTY); // hold no caller's bytes past the call
      addresses.fill('');
    },
    onReceive(r) {
      if (closing) throw rawClosed(address);
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
          raw.close(handle, () => resolvePromise());
        } catch {
          resolvePromise();
        }
      });
      return closing;
    },
    async kernelDrops() {
      if (closing) return undefined;
      return raw.drops(handle);
    },
  };
}

const EMPTY = new Uint8Array(0);

/**
 * True for a raw ESP bind (its datagrams are ESP packets, for `rawEspWire`), false for a UDP one.
 *
 * @example
 * const wire = isRawEspBind(bind) ? rawEspWire({ bind, onDatagrams }) : udpWire({ bind, onDatagrams });
 */
export function isRawEspBind(bind: DatagramBind): bind is RawEspBind {
  return (bind as Partial<RawEspBind>).protocol === 'esp';
}

/**
 * What a raw ESP wire counts; drops by reason go to its `DropCounters`.
 *
 * @example
 * const { espIn, droppedIn } = wire.counters;
 */
export interface RawEspWireCounters {
  /** ESP packets handed on (`onDatagrams`). */
  espIn: number;
  /** Received packets dropped (reasons in `drops`). */
  droppedIn: number;
  /** ESP packets given to the bind. */
  espOut: number;
  /** Engine packets that could not go out as raw ESP (reasons in `drops`). */
  droppedOut: number;
  /** `onDatagrams` calls that threw. */
  callbackErrors: number;
}

/**
 * Options of `rawEspWire`.
 *
 * @example
 * const options: RawEspWireOptions = { bind, drops: gw.drops, onDatagrams: (batch) => fromWire.next(batch) };
 */
export interface RawEspWireOptions {
  /** A raw ESP bind, or any bind whose datagrams are ESP packets (the twin in tests). */
  bind: DatagramBind;
  /** Where drops are counted, by reason (the gateway's `gw.drops`); default a new `DropCounters`. */
  drops?: DropCounters;
  /**
   * The local address per family, used only for datagrams that do not say where they were sent
   * (`RawEspDatagram.local` missing, as from `memoryBindPair`) when the bind is on a wildcard.
   */
  local?: { v4?: string; v6?: string };
  /**
   * Inbound ESP as outer IP + ESP datagrams, one batch per bind batch: feed them to
   * `processInbound` / `decapsulate`. New buffers the callback owns. A callback that throws
   * loses its batch (counted once in `callbackErrors`); the wire goes on.
   */
  onDatagrams: (batch: Uint8Array[]) => void;
}

/**
 * The engine's view of a raw ESP bind.
 *
 * @example
 * const wire: RawEspWire = rawEspWire({ bind, onDatagrams }); wire.send(espPackets);
 */
export interface RawEspWire {
  readonly bind: DatagramBind;
  readonly drops: DropCounters;
  readonly counters: Readonly<RawEspWireCounters>;
  /**
   * Sends the engine's outer IP + ESP datagrams (`encapsulate`, `processOutbound` output for SAs
   * without NAT-T) as one bind batch: each one's ESP to its outer destination. A packet that is not
   * ESP on IP (ESP in UDP included) or is a fragment is a counted drop. The packets are given away
   * (see `DatagramBind` ownership). Throws `bind.closed` after close.
   */
  send(packets: readonly Uint8Array[]): void;
}

const drop = (reason: DropReason) => ({ ok: false, reason }) as const;

/**
 * Outbound, one packet: the ESP bytes of the engine's outer IP + ESP datagram and where they go.
 * The kernel writes the outer header again from the socket (source, TTL); the engine's DSCP/ECN
 * and DF are not carried. Drops: `notIpsec` (not ESP: ESP in UDP belongs on a UDP bind),
 * `fragment`, and the IP parser's own.
 *
 * @example
 * const r = rawEspDatagramOf(packet); if (r.ok) bind.send([{ data: r.data, address: r.address, port: 0 }]);
 */
export function rawEspDatagramOf(packet: Uint8Array): { ok: true; data: Uint8Array; address: string } | { ok: false; reason: DropReason } {
  const ip = parseIp(packet);
  if (!ip.ok) return ip;
  if (ip.fragment) return drop('fragment');
  // RFC 4303 §2: ESP is IP protocol 50 (IPv4 Protocol, or the last IPv6 Next Header).
  if (ip.protocol !== IPPROTO.ESP) return drop('notIpsec');
  const address = addressText(ip.dst);
  return address === undefined ? drop('malformed') : { ok: true, data: ip.payload, address };
}

/** Bounded bytes → text memo: peers are few, formatting per packet is not free. */
const textMemo = new Map<string, string>();
function addressText(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 4 && bytes.length !== 16) return undefined;
  const key = bytes.join(',');
  let text = textMemo.get(key);
  if (text === undefined) {
    if (textMemo.size >= 1024) textMemo.clear();
    text = formatIpAddress(bytes);
    textMemo.set(key, text);
  }
  return text;
}

/**
 * Inbound, one packet: the outer IP + ESP datagram that carried `esp` from `src` to `dst`, as the
 * engine's `decapsulate` / `processInbound` take it. Synthetic where the socket hid the truth:
 * TTL 64, ID 0, no DSCP/ECN, DF clear. A new buffer the caller owns; `esp` is only read. Drops:
 * `truncated` (shorter than SPI and sequence number, RFC 4303 §2), `unsupported` (an address is not
 * an IP literal, or the families differ), `oversized`.
 *
 * @example
 * const r = rawIpDatagramOf(d.data, d.address, d.local); if (r.ok) decapsulate(r.packet, sad.espLookup);
 */
export function rawIpDatagramOf(esp: Uint8Array, src: string, dst: string): { ok: true; packet: Uint8Array } | { ok: false; reason: DropReason } {
  if (esp.length < 8) return drop('truncated');
  const s = addressBytes(src);
  const d = addressBytes(dst);
  if (s === undefined || d === undefined || s.length !== d.length) return drop('unsupported');
  const v4 = s.length === 4;
  const header = v4 ? IPV4_MIN_HEADER : IPV6_HEADER;
  if (esp.length > (v4 ? MAX_ESP_V4 : MAX_ESP_V6)) return drop('oversized');
  const out = allocPacket(header + esp.length);
  if (v4) writeIpv4Header(out, 0, { totalLength: header + esp.length, protocol: IPPROTO.ESP, src: s, dst: d });
  else writeIpv6Header(out, 0, { payloadLength: esp.length, nextHeader: IPPROTO.ESP, hopLimit: 64, src: s, dst: d });
  out.set(esp, header);
  return { ok: true, packet: out };
}

/**
 * Joins the engine to a raw ESP bind: installs itself as the bind's receiver and hands what
 * arrives on as outer IP + ESP datagrams; sends the engine's outer IP + ESP datagrams as ESP.
 * There is no IKE here (IKE runs on UDP 500/4500, RFC 7296 §2) and no NAT-keepalive (RFC 3948 is
 * UDP only). Throws `TypeError` naming the option on misuse.
 *
 * @example
 * const bind = await rawEspBind({ family: 4, address: '198.51.100.1' });
 * const wire = rawEspWire({ bind, drops: gw.drops, onDatagrams: (batch) => { const toTun: Uint8Array[] = []; for (const d of batch) processInbound(gw, d, toTun); tun.write(toTun); } });
 * tun.read((batch) => { const out: Uint8Array[] = []; for (const p of batch) processOutbound(gw, p, out); wire.send(out); });
 */
export function rawEspWire(options: RawEspWireOptions): RawEspWire {
  const { bind, onDatagrams } = options;
  if (typeof onDatagrams !== 'function') throw new TypeError('onDatagrams: must be a function');
  if (options.local?.v4 !== undefined && addressBytes(options.local.v4)?.length !== 4) throw new TypeError(`local.v4: must be an IPv4 literal, got ${options.local.v4}`);
  if (options.local?.v6 !== undefined && addressBytes(options.local.v6)?.length !== 16) throw new TypeError(`local.v6: must be an IPv6 literal, got ${options.local.v6}`);
  const drops = options.drops ?? new DropCounters();
  const counters: RawEspWireCounters = { espIn: 0, droppedIn: 0, espOut: 0, droppedOut: 0, callbackErrors: 0 };
  const bound = addressBytes(bind.localAddress);
  const wildcard = bound === undefined || bound.every((b) => b === 0);
  const fallback = (remote: string): string | undefined => (!wildcard ? bind.localAddress : remote.includes(':') ? options.local?.v6 : options.local?.v4);

  bind.onReceive((batch) => {
    const datagrams: Uint8Array[] = [];
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]! as Datagram & { local?: string };
      const local = d.local ?? fallback(d.address);
      const r = local === undefined ? drop('unsupported') : rawIpDatagramOf(d.data, d.address, local);
      if (!r.ok) {
        counters.droppedIn++;
        drops.count(r.reason);
        continue;
      }
      datagrams.push(r.packet);
      counters.espIn++;
    }
    if (datagrams.length === 0) return;
    try {
      onDatagrams(datagrams);
    } catch {
      counters.callbackErrors++;
    }
  });

  return {
    bind,
    drops,
    counters,
    send(packets) {
      if (bind.closed) throw rawClosed(bind.localAddress);
      const out: Datagram[] = [];
      for (let i = 0; i < packets.length; i++) {
        const r = rawEspDatagramOf(packets[i]!);
        if (r.ok) out.push({ data: r.data, address: r.address, port: 0 });
        else {
          counters.droppedOut++;
          drops.count(r.reason);
        }
      }
      if (out.length === 0) return;
      counters.espOut += out.length;
      bind.send(out);
    },
  };
}
