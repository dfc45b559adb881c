/**
 * What the real device and its twin share, so both count the same drops the same way: the IP
 * check every packet passes in both directions, the counters, and the delivery of one batch
 * from a slab (views, checks, the handler call).
 */
import { readU16 } from '../../engine/bytes.js';
import { IpsecError } from '../../engine/errors.js';
import { IPV4_MIN_HEADER } from '../../engine/packet/ipv4.js';
import { IPV6_HEADER } from '../../engine/packet/ipv6.js';
import { TUN_DROP_REASONS, type TunBatchHandler, type TunDropReason, type TunStats } from './types.js';

/**
 * Why `packet` cannot be handed on as one IP packet, or `undefined` when it can: the version
 * nibble is 4 or 6 (IFF_NO_PI: the kernel itself tells the protocol by that nibble), the header
 * is whole and the length it claims fits (RFC 791 §3.1 Total Length, RFC 8200 §3 Payload
 * Length). Trailing octets past the claimed length are tolerated, as the kernel trims them.
 *
 * @example
 * ipPacketProblem(new Uint8Array([0x45, 0, 0, 20])); // 'truncated'
 */
export function ipPacketProblem(packet: Uint8Array): TunDropReason | undefined {
  const first = packet[0];
  if (first === undefined) return 'truncated';
  const version = first >> 4;
  if (version === 4) {
    if (packet.length < IPV4_MIN_HEADER) return 'truncated';
    const headerLength = (first & 0x0f) * 4;
    const totalLength = readU16(packet, 2);
    if (headerLength < IPV4_MIN_HEADER || totalLength < headerLength) return 'malformed';
    return totalLength > packet.length ? 'truncated' : undefined;
  }
  if (version === 6) {
    if (packet.length < IPV6_HEADER) return 'truncated';
    return IPV6_HEADER + readU16(packet, 4) > packet.length ? 'truncated' : undefined;
  }
  return 'malformed';
}

/**
 * Fresh counters, all zero.
 *
 * @example
 * const stats = emptyTunStats();
 */
export function emptyTunStats(): TunStats {
  const drops = {} as Record<TunDropReason, number>;
  for (const reason of TUN_DROP_REASONS) drops[reason] = 0;
  return { rxPackets: 0, rxBytes: 0, rxBatches: 0, txPackets: 0, txBytes: 0, drops };
}

/**
 * A snapshot of `stats` the caller may keep.
 *
 * @example
 * const before = snapshotTunStats(stats);
 */
export function snapshotTunStats(stats: TunStats): TunStats {
  return { ...stats, drops: { ...stats.drops } };
}

/**
 * Hands `count` packets read into `slab` (slot i at `i * slotBytes`, its length in
 * `lengths[i]`) to `onBatch` as views, after dropping those that are longer than a slot (the
 * kernel cut them) or fail `ipPacketProblem`. `batch` is the array reused for every call. A
 * handler that throws is passed to `onError`, or rethrown when there is none.
 *
 * @example
 * deliverBatch(slab, 1500, lengths, n, batch, stats, onBatch, onError);
 */
export function deliverBatch(
  slab: Uint8Array,
  slotBytes: number,
  lengths: Int32Array,
  count: number,
  batch: Uint8Array[],
  stats: TunStats,
  onBatch: TunBatchHandler,
  onError: ((error: Error) => void) | undefined,
): void {
  batch.length = 0;
  for (let i = 0; i < count; i++) {
    const length = lengths[i] ?? 0;
    if (length > slotBytes) {
      stats.drops.truncated++;
      continue;
    }
    const packet = slab.subarray(i * slotBytes, i * slotBytes + length);
    const problem = ipPacketProblem(packet);
    if (problem !== undefined) {
      stats.drops[problem]++;
      continue;
    }
    stats.rxBytes += length;
    batch.push(packet);
  }
  if (batch.length === 0) return;
  stats.rxPackets += batch.length;
  stats.rxBatches++;
  try {
    onBatch(batch);
  } catch (error) {
    if (onError === undefined) throw error;
    onError(error instanceof Error ? error : new Error(String(error)));
  } finally {
    batch.length = 0;
  }
}

/**
 * Marks in `verdicts` (0 = write it, -1 = do not) which of `packets` may be written, counting
 * the others as drops; grows `verdicts` when the batch is larger. Returns the array to use.
 *
 * @example
 * verdicts = checkWrites(packets, verdicts, stats);
 */
export function checkWrites(packets: readonly Uint8Array[], verdicts: Int32Array<ArrayBuffer>, stats: TunStats): Int32Array<ArrayBuffer> {
  const out = verdicts.length >= packets.length ? verdicts : new Int32Array(Math.max(packets.length, verdicts.length * 2));
  for (let i = 0; i < packets.length; i++) {
    const packet = packets[i];
    if (!(packet instanceof Uint8Array)) throw new TypeError(`packets[${i}]: must be a Uint8Array`);
    const problem = ipPacketProblem(packet);
    if (problem !== undefined) stats.drops[problem]++;
    out[i] = problem === undefined ? 0 : -1;
  }
  return out;
}

/**
 * The error every use of a closed device throws.
 *
 * @example
 * if (closed) throw tunClosed('tun0', 'write');
 */
export function tunClosed(name: string, operation: string): IpsecError {
  return new IpsecError('tun.closed', `TUN device ${name} is closed: ${operation}() is not possible after close()`);
}

/**
 * The error a second concurrent reader gets.
 *
 * @example
 * if (reading) throw tunBusy('tun0');
 */
export function tunBusy(name: string): IpsecError {
  return new IpsecError('tun.busy', `TUN device ${name} already has a reader: stop it (the function read() returned) first`);
}
