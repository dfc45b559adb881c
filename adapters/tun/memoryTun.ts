/**
 * The twin of the Linux TUN device: the same `TunDevice`, with the host's side of it in the
 * caller's hands (`host`). It behaves like the kernel where a caller could tell the difference:
 * packets the host sends wait in a bounded queue (txqueuelen) and reach the reader on a later
 * turn of the event loop, at most `batchSize` per call, read into one reused slab (a packet
 * longer than `maxPacketBytes` is cut and counted `truncated`); what the gateway writes is
 * copied, as write(2) copies. Packets handed to `onBatch` are overwritten with 0xEE when the call
 * returns, so code that keeps them without copying fails here, not in production.
 */
import { checkWrites, deliverBatch, emptyTunStats, snapshotTunStats, tunBusy, tunClosed } from './tunPackets.js';
import { TUN_DEFAULT_BATCH, type TunBatchHandler, type TunDevice, type TunStats } from './types.js';
import { IpsecError } from '../../engine/errors.js';

/**
 * Options of `memoryTun`.
 *
 * @example
 * const options: MemoryTunOptions = { mtu: 1400, queueLimit: 100 };
 */
export interface MemoryTunOptions {
  /** Default `memtun0`, `memtun1`, ... */
  name?: string;
  /** Default 1500. */
  mtu?: number;
  /** Most packets per `onBatch` call; default 64. */
  batchSize?: number;
  /** Bytes read per packet; default the MTU. Longer packets are counted `truncated`. */
  maxPacketBytes?: number;
  /** Packets the host may queue before the device drops them (the kernel's txqueuelen); default 500. */
  queueLimit?: number;
}

/**
 * The host's side of a `memoryTun`: what the kernel's stack does with a real device.
 *
 * @example
 * tun.host.send([echoRequest]);
 * tun.host.onReceive((packets) => replies.push(...packets));
 */
export interface MemoryTunHost {
  /**
   * Routes packets into the device, as the host's stack would: copied now, delivered to the
   * reader later. Any bytes go in (the kernel also sends non-IP frames from packet sockets);
   * the device counts what is not IP. Packets past `queueLimit` are dropped (`queueDrops`).
   */
  send(packets: readonly Uint8Array[]): void;
  /**
   * Calls `listener` with every batch the gateway writes (copies it owns), synchronously within
   * `write`. Returns a function that removes it. While no listener is set, written packets
   * collect for `take()` (at most `queueLimit`, the oldest go first).
   */
  onReceive(listener: (packets: Uint8Array[]) => void): () => void;
  /** Written packets collected since the last `take()`, oldest first. */
  take(): Uint8Array[];
  /** Deletes the device under its user, as `ip link delete` does: the reader gets `tun.readFailed`, writes count `deviceError`. */
  remove(): void;
  /** Packets `send` dropped because the queue was full. */
  readonly queueDrops: number;
}

/**
 * A `TunDevice` whose host side is `host`.
 *
 * @example
 * const tun: MemoryTun = memoryTun();
 * const device: TunDevice = tun; // what the gateway gets
 */
export interface MemoryTun extends TunDevice {
  readonly host: MemoryTunHost;
}

let nextIndex = 0;

/**
 * An in-memory TUN device (the twin of `openLinuxTun`); passes the same contract suite.
 *
 * @example
 * const tun = memoryTun({ mtu: 1400 });
 * tun.read((packets) => tun.write(packets.map(toReply)));
 * tun.host.onReceive((replies) => check(replies));
 * tun.host.send([echoRequest]);
 */
export function memoryTun(options: MemoryTunOptions = {}): MemoryTun {
  const name = options.name ?? `memtun${nextIndex++}`;
  const mtu = options.mtu ?? 1500;
  const batchSize = options.batchSize ?? TUN_DEFAULT_BATCH;
  const slotBytes = options.maxPacketBytes ?? mtu;
  const queueLimit = options.queueLimit ?? 500;
  const slab = new Uint8Array(batchSize * slotBytes);
  const lengths = new Int32Array(batchSize);
  const batch: Uint8Array[] = [];
  const stats: TunStats = emptyTunStats();
  const queue: Uint8Array[] = [];
  let written: Uint8Array[] = [];
  const listeners = new Set<(packets: Uint8Array[]) => void>();
  let verdicts = new Int32Array(batchSize);
  let reader: { onBatch: TunBatchHandler; onError: ((error: Error) => void) | undefined } | undefined;
  let wakeScheduled = false;
  let closing: Promise<void> | undefined;
  let removed = false;
  let queueDrops = 0;

  function schedule(): void {
    if (wakeScheduled || reader === undefined || queue.length === 0) return;
    wakeScheduled = true;
    setImmediate(wake);
  }

  // One wake-up, as uv_poll's: read up to batchSize queued packets into the slab, hand them up.
  function wake(): void {
    wakeScheduled = false;
    const current = reader;
    if (current === undefined || closing) return;
    const count = Math.min(batchSize, queue.length);
    for (let i = 0; i < count; i++) {
      const packet = queue.shift() as Uint8Array;
      slab.set(packet.subarray(0, slotBytes), i * slotBytes);
      lengths[i] = packet.length; // like read(2) on a TUN fd: the full length, even when cut
    }
    try {
      deliverBatch(slab, slotBytes, lengths, count, batch, stats, current.onBatch, current.onError);
    } finally {
      slab.fill(0xee, 0, count * slotBytes); // the packets were views: they are gone now
      schedule();
    }
  }

  function fail(): void {
    const current = reader;
    reader = undefined;
    if (current === undefined) return;
    const failure = new IpsecError('tun.readFailed', `TUN device ${name}: reading failed with EBADF; the device was deleted (ip link delete) or its driver went away: close() it and open a new one`);
    setImmediate(() => {
      if (current.onError === undefined) throw failure;
      current.onError(failure);
    });
  }

  const host: MemoryTunHost = {
    send(packets) {
      if (closing || removed) throw tunClosed(name, 'host.send');
      for (const packet of packets) {
        if (queue.length >= queueLimit) queueDrops++;
        else queue.push(packet.slice());
      }
      schedule();
    },
    onReceive(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    take() {
      const out = written;
      written = [];
      return out;
    },
    remove() {
      removed = true;
      queue.length = 0;
      fail();
    },
    get queueDrops() {
      return queueDrops;
    },
  };

  return {
    name,
    mtu,
    batchSize,
    host,
    read(onBatch, onError) {
      if (closing) throw tunClosed(name, 'read');
      if (reader !== undefined) throw tunBusy(name);
      if (typeof onBatch !== 'function') throw new TypeError('onBatch: must be a function');
      const mine = { onBatch, onError };
      reader = mine;
      if (removed) fail();
      schedule();
      return () => {
        if (reader === mine) reader = undefined;
      };
    },
    write(packets) {
      if (closing) throw tunClosed(name, 'write');
      if (!Array.isArray(packets)) throw new TypeError('packets: must be an array of Uint8Array');
      verdicts = checkWrites(packets, verdicts, stats);
      const copies: Uint8Array[] = [];
      for (let i = 0; i < packets.length; i++) {
        if (verdicts[i] !== 0) continue;
        if (removed) {
          stats.drops.deviceError++;
          stats.lastDeviceError = 'EBADFD';
          continue;
        }
        const packet = packets[i] as Uint8Array;
        copies.push(packet.slice());
        stats.txBytes += packet.length;
      }
      stats.txPackets += copies.length;
      if (copies.length > 0) {
        if (listeners.size > 0) for (const listener of listeners) listener(copies);
        else {
          written.push(...copies);
          if (written.length > queueLimit) written.splice(0, written.length - queueLimit);
        }
      }
      return copies.length;
    },
    stats: () => snapshotTunStats(stats),
    close() {
      closing ??= Promise.resolve().then(() => {
        reader = undefined;
        queue.length = 0;
      });
      return closing;
    },
  };
}
