/**
 * The `TunDevice` port (DESIGN §5): a layer-3 virtual interface, shaped after wireguard-go's
 * `tun.Device` — batch-shaped, no RxJS. The real one is a Linux TUN device (`openLinuxTun`), the
 * twin is `memoryTun()`; both pass test/adapters/tun/tun.contract.ts.
 *
 * Direction names follow the device, as the kernel counts them: *rx* are packets the host's
 * stack routed into the device (for the gateway: plain packets to protect), *tx* are packets the
 * gateway writes, which the host's stack then receives (decapsulated packets).
 */
import type { DropReason } from '../../engine/dropReasons.js';

/**
 * Most packets one `onBatch` call carries, unless `batchSize` says otherwise.
 *
 * @example
 * const tun = memoryTun({ batchSize: TUN_DEFAULT_BATCH });
 */
export const TUN_DEFAULT_BATCH = 64;

/**
 * Why the device dropped a packet, counted in `TunStats.drops` and never thrown:
 * - `truncated`: a read longer than `maxPacketBytes` (the kernel cut it), or a packet shorter
 *   than its IP header or than the length that header claims;
 * - `malformed`: not IP (the version nibble is not 4 or 6), or an impossible IP header;
 * - `deviceError`: the kernel refused a write (its errno is in `TunStats.lastDeviceError`).
 *
 * @example
 * const reason: TunDropReason = 'truncated';
 */
export type TunDropReason = Extract<DropReason, 'truncated' | 'malformed'> | 'deviceError';

/**
 * Every `TunDropReason`, in the order `TunStats.drops` lists them.
 *
 * @example
 * for (const reason of TUN_DROP_REASONS) console.log(reason, tun.stats().drops[reason]);
 */
export const TUN_DROP_REASONS = ['truncated', 'malformed', 'deviceError'] as const satisfies readonly TunDropReason[];

/**
 * Counters of one device since it was opened. Cumulative, never reset.
 *
 * @example
 * const { rxPackets, rxBatches, drops } = tun.stats();
 * console.log(`${(rxPackets / rxBatches).toFixed(1)} packets per wake-up, ${drops.malformed} not IP`);
 */
export interface TunStats {
  /** Packets delivered to `onBatch`, and their bytes. */
  rxPackets: number;
  rxBytes: number;
  /** `onBatch` calls (wake-ups that delivered at least one packet). */
  rxBatches: number;
  /** Packets written to the device, and their bytes. */
  txPackets: number;
  txBytes: number;
  /** One counter per reason, both directions. */
  drops: Record<TunDropReason, number>;
  /** The last write the kernel refused, as `EINVAL (Invalid argument)`; undefined if none. */
  lastDeviceError?: string;
  /**
   * The real device only: writes that carried a run of packets as one GSO packet (IFF_VNET_HDR,
   * native/tun/coalesce.c), and the packets in them (of `txPackets`).
   */
  gso?: { writes: number; packets: number };
}

/**
 * Receives packets the host routed into the device, up to `batchSize` per call.
 *
 * **Ownership**: `packets` and every `Uint8Array` in it are only valid until the call returns.
 * The real device reads into one slab it reuses at the next wake-up (the packets are views into
 * it), and the twin overwrites them on purpose when the call returns. Keep a packet with
 * `packet.slice()`; transform it in place freely while the call runs.
 *
 * @example
 * const onBatch: TunBatchHandler = (packets) => queue.push(...packets.map((p) => p.slice()));
 */
export type TunBatchHandler = (packets: readonly Uint8Array[]) => void;

/**
 * A TUN device: read batches of IP packets the host routes into it, write batches of IP packets
 * for the host to receive. Per-packet problems are counted drops (`stats()`), never exceptions;
 * misuse (a closed device, two readers) throws an `IpsecError`.
 *
 * @example
 * const stop = tun.read((packets) => {
 *   const replies = packets.map(makeReply); // copies: the packets are reused after this call
 *   tun.write(replies);
 * });
 * // ...
 * stop();
 * await tun.close();
 */
export interface TunDevice {
  /** The interface name (`ip link` shows it), e.g. `tun0`. */
  readonly name: string;
  /** The MTU the device was opened with. */
  readonly mtu: number;
  /** Most packets per `onBatch` call. */
  readonly batchSize: number;
  /**
   * Starts delivering packets to `onBatch` (one reader at a time) and returns a function that
   * stops it; packets arriving while nobody reads wait in the kernel's queue (txqueuelen) and
   * are dropped by the kernel once it is full. If the device fails (it was deleted under us),
   * reading stops and `onError` gets an `IpsecError` `tun.readFailed`; without `onError` that
   * error is thrown as an uncaught exception. Throws `tun.closed` on a closed device and
   * `tun.busy` while another reader is active.
   */
  read(onBatch: TunBatchHandler, onError?: (error: Error) => void): () => void;
  /**
   * Writes each packet as one IP packet and returns how many were written. Packets that are not
   * IP or shorter than their header says are not written: they are counted drops, as are
   * packets the kernel refuses. The device keeps none of the caller's buffers: they may be
   * reused as soon as `write` returns. Throws `tun.closed` on a closed device.
   */
  write(packets: readonly Uint8Array[]): number;
  /** Counters since open (a snapshot). */
  stats(): TunStats;
  /** Stops reading and removes the device. Idempotent: later calls return the same promise. */
  close(): Promise<void>;
}
