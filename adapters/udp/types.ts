/**
 * The `DatagramBind` port (DESIGN §5): where ESP-in-UDP (RFC 3948) and IKE on port 4500 meet the
 * network. Shaped after wireguard-go's `conn.Bind`: batches in and out, one receiver, no RxJS,
 * nothing a datagram contains or a peer does (ICMP errors included) can throw out of it.
 *
 * Implementations: `udpBind()` (node:dgram, IPv4 or IPv6), `memoryBindPair()` (the twin), and
 * the raw ESP option `rawEspBind()` (IP protocol 50 through our addon; root or CAP_NET_RAW).
 *
 * Buffer ownership, the same for every implementation:
 * - `send`: the bind may read each `data` until the kernel has it, which can be after `send`
 *   returns; the caller gives the bytes away and must not change them afterwards. (The engine's
 *   `encapsulate` returns a buffer the caller owns outright, so nothing needs copying.)
 * - receive: every `data` handed to the receiver is a fresh buffer nobody else holds; the receiver
 *   owns it (it may decrypt in place, as `decapsulate`/`openEsp` do, and keep it). The batch
 *   array is the receiver's too.
 */

/**
 * A UDP datagram and the far end: where it goes (`send`) or where it came from (receive).
 *
 * @example
 * const d: Datagram = { data: esp, address: '198.51.100.7', port: 4500 };
 */
export interface Datagram {
  /** The UDP payload. */
  data: Uint8Array;
  /**
   * An IP literal: dotted quad or IPv6 text. Received IPv4 peers are reported as dotted quads,
   * also on a dual-stack IPv6 bind (never `::ffff:a.b.c.d`).
   */
  address: string;
  port: number;
}

/**
 * A transport address: IP literal and UDP port.
 *
 * @example
 * const peer: Endpoint = { address: '2001:db8::7', port: 4500 };
 */
export interface Endpoint {
  address: string;
  port: number;
}

/**
 * What a bind counts. Live values (the object is updated in place); per-datagram failures end
 * up here, never as exceptions.
 *
 * @example
 * const { sent, received, sendErrors } = bind.counters;
 */
export interface DatagramBindCounters {
  /** Datagrams the kernel (or the twin) accepted. Counted when the send completes. */
  sent: number;
  sentBytes: number;
  /** Datagrams handed to the receiver. */
  received: number;
  receivedBytes: number;
  /** Receive batches handed to the receiver. */
  receiveBatches: number;
  /** Datagrams not sent: a bad address or port, the wrong family, EMSGSIZE, ENETUNREACH, ... */
  sendErrors: number;
  /** `'error'` events of the socket (a receive error, an ICMP error reported on it). */
  socketErrors: number;
  /** Receiver calls that threw (the batch is gone; the bind keeps receiving). */
  receiverErrors: number;
  /** Datagrams that arrived while no receiver was set: dropped. */
  unclaimed: number;
}

/**
 * What a bind reports besides its counters. `code` is the errno name where there is one.
 *
 * @example
 * bind.onEvent((e) => { if (e.kind === 'sendError') log.warn(`${e.address}:${e.port} ${e.code}`); });
 */
export type DatagramBindEvent =
  | { kind: 'sendError'; address: string; port: number; code: string; message: string }
  | { kind: 'socketError'; code: string; message: string }
  | { kind: 'receiverError'; error: unknown };

/**
 * The port: one local UDP address and port, batches out, batches in.
 *
 * Rules every implementation keeps (test/adapters/udp/bind.contract.ts checks them):
 * - `send` never throws for what a datagram or its destination is: a bad port or address, a
 *   family the bind cannot reach, an oversized payload are `sendErrors` plus a `sendError`
 *   event; the other datagrams of the batch still go. Datagrams to one destination arrive in
 *   the order sent, unless the network reorders them (loopback does not).
 * - A peer that is not listening (ICMP port unreachable) is not an error: UDP loses the
 *   datagram and the bind carries on. The socket is never connected, so the kernel reports no
 *   ICMP errors on it, and an `'error'` event would be counted anyway, never thrown.
 * - A receiver that throws is counted (`receiverErrors`, `receiverError` event); the bind keeps
 *   receiving. Datagrams arriving before `onReceive` are `unclaimed` and dropped.
 * - After `close()` (which resolves once the socket is closed; again: a no-op), `send` and
 *   `onReceive` throw `IpsecError` with code `bind.closed`.
 *
 * @example
 * const bind: DatagramBind = await udpBind({ address: '0.0.0.0', port: NAT_T_PORT });
 * bind.onReceive((batch) => { for (const d of batch) handle(d.data, d.address, d.port); });
 * bind.send([{ data: espBytes, address: '198.51.100.7', port: 4500 }]);
 */
export interface DatagramBind {
  /** The address bound (a wildcard `0.0.0.0` / `::` when bound to all). */
  readonly localAddress: string;
  /** The port bound (the one the kernel chose when asked for 0). */
  readonly localPort: number;
  readonly closed: boolean;
  readonly counters: Readonly<DatagramBindCounters>;
  /** Sends each datagram to its address and port. See the ownership rule above. */
  send(batch: readonly Datagram[]): void;
  /** Sets the one receiver (a second call replaces it). Batches are never empty. */
  onReceive(receiver: (batch: Datagram[]) => void): void;
  /** Adds an event listener; returns a function that removes it. */
  onEvent(listener: (event: DatagramBindEvent) => void): () => void;
  close(): Promise<void>;
}

/**
 * A requested socket buffer size and what the kernel granted.
 *
 * @example
 * if (bind.buffers.recv.clamped) console.warn(`receive buffer ${bind.buffers.recv.actual}: raise net.core.rmem_max`);
 */
export interface SocketBufferSize {
  /** What was asked for; `'system'` left the kernel's default (net.core.[rw]mem_default). */
  requested: number | 'system';
  /**
   * What the kernel reports (SO_RCVBUF / SO_SNDBUF). Linux doubles the requested value for its
   * own bookkeeping and caps the request at net.core.rmem_max / wmem_max first.
   */
  actual: number;
  /** True when the kernel granted less than asked (the cap applied); raise net.core.[rw]mem_max. */
  clamped: boolean;
}

/**
 * Options of the node:dgram bind.
 *
 * @example
 * const options: UdpBindOptions = { address: '::', ipv6Only: false, recvBufferSize: 8 << 20 };
 */
export interface UdpBindOptions {
  /** The local IP literal to bind: `0.0.0.0`, `::`, `127.0.0.1`, `::1`, ... Its form picks the family. */
  address: string;
  /** Default 4500 (RFC 3948 §2.1, `NAT_T_PORT`); 0 lets the kernel choose. */
  port?: number;
  /**
   * Receive buffer; default 4 MiB. Measured here: with the kernel default (208 KiB) a 20 000
   * datagram burst of 1400 octets from another thread lost 8-13 %, with 4 MiB none.
   */
  recvBufferSize?: number | 'system';
  /** Send buffer; default 4 MiB. */
  sendBufferSize?: number | 'system';
  /** For `::`: accept IPv6 only (default true). `false` makes a dual-stack bind. */
  ipv6Only?: boolean;
  /** Deliver a batch once this many datagrams are waiting, without waiting for the turn to end. Default 256. */
  maxBatch?: number;
}

/**
 * Options of the raw ESP bind (IP protocol 50, RFC 4303 without UDP): see `rawEspBind`
 * (adapters/udp/rawEspBind.ts).
 *
 * @example
 * const options: RawEspBindOptions = { family: 4, address: '192.0.2.1' };
 */
export interface RawEspBindOptions {
  /** 4 or 6: one raw socket per family (an IPv6 raw socket never sees IPv4). */
  family: 4 | 6;
  /**
   * The local address whose ESP packets are wanted, and the source of those sent; default every
   * local address (`0.0.0.0` / `::`; the kernel picks the source by route).
   */
  address?: string;
  /** Receive buffer; default 4 MiB, as the UDP binds (see `UdpBindOptions.recvBufferSize`). */
  recvBufferSize?: number | 'system';
  /** Send buffer; default 4 MiB. */
  sendBufferSize?: number | 'system';
  /** Most packets per receive batch (one recvmmsg(2)); default 64, at most 1024. */
  maxBatch?: number;
  /**
   * A network namespace to open the socket in (a path such as `/run/netns/NAME`; needs
   * CAP_SYS_ADMIN). The socket lives there; the process stays where it is (the way a WireGuard
   * interface keeps its socket in the namespace it was born in). Default: the process's own.
   */
  netns?: string;
}
