/**
 * The `DatagramBind` twin (DESIGN §5): two binds joined by an in-memory wire, with optional loss
 * and latency. It keeps the port's rules the way the node:dgram bind does (the same contract
 * suite runs against both): per-datagram failures are counted (`EINVAL` for a bad port, a
 * non-literal or other-family address, `EMSGSIZE` past the UDP maximum), a datagram to an
 * address and port nobody holds is silently lost (what UDP does on ICMP port unreachable),
 * delivery is asynchronous and batched per event-loop turn, and received bytes are a copy the
 * receiver owns (the twin copies at `send`, as the kernel does).
 */
import { isIP } from 'node:net';
import type { Random } from '../../machines/ports.js';
import type { Datagram, DatagramBind, Endpoint } from './types.js';
import { bindClosed, eventEmitter, isSendPort, newBindCounters } from './udpBind.js';

/**
 * Options of `memoryBindPair`.
 *
 * @example
 * const options: MemoryBindOptions = { loss: 0.05, latencyMs: 20, random: seededRandom(1) };
 */
export interface MemoryBindOptions {
  /** The first bind's address and port; default 192.0.2.1:4500. */
  a?: Partial<Endpoint>;
  /** The second bind's address and port; default 192.0.2.2:4500 (the family follows `a`: 2001:db8::2 when `a` is IPv6). */
  b?: Partial<Endpoint>;
  /** Probability in [0, 1] that a datagram is lost on the way; default 0. */
  loss?: number;
  /** One-way delay in milliseconds; default 0 (delivered in the next event-loop turn). */
  latencyMs?: number;
  /** The loss dice (the `Random` port's `int`); default `Math.random`. Pass `seededRandom(n)` for repeatable runs. */
  random?: Pick<Random, 'int'>;
  /** The timer used for latency; default the global `setTimeout` (a simulated clock's may be given). */
  setTimeout?: (fn: () => void, ms: number) => unknown;
}

/**
 * A twin bind: the port plus what the simulation did.
 *
 * @example
 * const [a] = memoryBindPair({ loss: 0.1 }); a.send(batch); console.log(a.simulated.lost);
 */
export interface MemoryBind extends DatagramBind {
  readonly family: 4 | 6;
  /** Datagrams sent by this bind that did not arrive: `lost` to the loss dice, `unrouted` to nobody listening there. */
  readonly simulated: { lost: number; unrouted: number };
}

/** RFC 768 over IPv4 (65535 - 20 - 8) and IPv6 without jumbograms (65535 - 8). */
const MAX_PAYLOAD = { 4: 65_507, 6: 65_527 } as const;

interface Side {
  bind: MemoryBind;
  /** Hands a batch to this side (after loss and latency). */
  deliver(batch: Datagram[]): void;
  accepts(address: string, port: number): boolean;
  /** The source address this side's datagrams carry. */
  source: string;
}

/**
 * Two connected twin binds. What one sends to the other's address and port arrives there, in
 * order, as fresh copies, after `latencyMs`, minus what `loss` takes.
 *
 * @example
 * const [a, b] = memoryBindPair({ loss: 0.01, random: seededRandom(7) });
 * b.onReceive((batch) => got.push(...batch));
 * a.send([{ data: esp, address: b.localAddress, port: b.localPort }]);
 */
export function memoryBindPair(options: MemoryBindOptions = {}): [MemoryBind, MemoryBind] {
  const loss = options.loss ?? 0;
  if (!(typeof loss === 'number' && loss >= 0 && loss <= 1)) throw new RangeError(`loss: must be a probability in [0, 1], got ${String(loss)}`);
  const latencyMs = options.latencyMs ?? 0;
  if (!(typeof latencyMs === 'number' && Number.isFinite(latencyMs) && latencyMs >= 0)) throw new RangeError(`latencyMs: must be a finite number >= 0, got ${String(latencyMs)}`);
  const random = options.random ?? { int: (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1)) };
  // Loss decided in millionths: `int` is the only thing the Random port promises.
  const lossMillionths = Math.round(loss * 1_000_000);
  const timer = options.setTimeout ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const aAddress = options.a?.address ?? '192.0.2.1';
  const v6 = isIP(aAddress) === 6;
  const a: Endpoint = { address: aAddress, port: options.a?.port ?? 4500 };
  const b: Endpoint = { address: options.b?.address ?? (v6 ? '2001:db8::2' : '192.0.2.2'), port: options.b?.port ?? 4500 };
  for (const [name, e] of [['a', a], ['b', b]] as const) {
    if (!isIP(e.address)) throw new TypeError(`${name}.address: must be an IPv4 or IPv6 literal, got ${e.address}`);
    if (!isSendPort(e.port)) throw new RangeError(`${name}.port: must be an integer in [1, 65535], got ${e.port}`);
  }
  if (a.address === b.address && a.port === b.port) throw new RangeError(`b: must differ from a, both are ${a.address}:${a.port}`);
  const sideA = side(a);
  const sideB = side(b);
  sideA.peer = sideB;
  sideB.peer = sideA;
  return [sideA.bind, sideB.bind];

  function side(me: Endpoint): Side & { peer?: Side } {
    const family = isIP(me.address) as 4 | 6;
    const counters = newBindCounters();
    const simulated = { lost: 0, unrouted: 0 };
    const events = eventEmitter();
    const wildcard = me.address === '0.0.0.0' || me.address === '::';
    let receiver: ((batch: Datagram[]) => void) | undefined;
    let pending: Datagram[] = [];
    let scheduled = false;
    let closing: Promise<void> | undefined;

    const flush = (): void => {
      scheduled = false;
      const batch = pending;
      pending = [];
      if (batch.length === 0 || closing) return;
      if (receiver === undefined) {
        counters.unclaimed += batch.length;
        return;
      }
      counters.received += batch.length;
      for (const d of batch) counters.receivedBytes += d.data.length;
      counters.receiveBatches++;
      try {
        receiver(batch);
      } catch (error) {
        counters.receiverErrors++;
        events.emit({ kind: 'receiverError', error });
      }
    };

    const failed = (address: string, port: number, code: string, message: string): void => {
      counters.sendErrors++;
      events.emit({ kind: 'sendError', address, port, code, message });
    };

    const self: Side & { peer?: Side } = {
      source: wildcard ? (family === 4 ? '127.0.0.1' : '::1') : me.address,
      accepts: (address, port) => !closing && port === me.port && (address === me.address || (wildcard && isIP(address) === family)),
      deliver(batch) {
        if (closing) return;
        for (const d of batch) pending.push(d);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      },
      bind: {
        family,
        simulated,
        localAddress: me.address,
        localPort: me.port,
        get closed() {
          return closing !== undefined;
        },
        counters,
        send(batch) {
          if (closing) throw bindClosed(me.address, me.port);
          const out: Datagram[] = [];
          for (let i = 0; i < batch.length; i++) {
            const d = batch[i]!;
            if (!isSendPort(d.port)) {
              failed(d.address, d.port, 'EINVAL', `port must be an integer in [1, 65535], got ${d.port}`);
              continue;
            }
            if (typeof d.address !== 'string' || isIP(d.address) !== family) {
              failed(String(d.address), d.port, 'EINVAL', `${String(d.address)} is not an IPv${family} address`);
              continue;
            }
            if (!(d.data instanceof Uint8Array)) {
              failed(d.address, d.port, 'EINVAL', 'data must be a Uint8Array');
              continue;
            }
            if (d.data.length > MAX_PAYLOAD[family]) {
              failed(d.address, d.port, 'EMSGSIZE', `${d.data.length} octets exceed the UDP maximum of ${MAX_PAYLOAD[family]} over IPv${family}`);
              continue;
            }
            counters.sent++;
            counters.sentBytes += d.data.length;
            const peer = self.peer;
            if (!peer?.accepts(d.address, d.port)) {
              simulated.unrouted++;
              continue;
            }
            if (lossMillionths > 0 && random.int(0, 999_999) < lossMillionths) {
              simulated.lost++;
              continue;
            }
            // The kernel copies at send; so does the twin: the receiver owns what it gets.
            out.push({ data: new Uint8Array(d.data), address: self.source, port: me.port });
          }
          if (out.length === 0) return;
          const peer = self.peer!;
          if (latencyMs === 0) peer.deliver(out);
          else timer(() => peer.deliver(out), latencyMs);
        },
        onReceive(r) {
          if (closing) throw bindClosed(me.address, me.port);
          if (typeof r !== 'function') throw new TypeError('receiver: must be a function');
          receiver = r;
        },
        onEvent(listener) {
          return events.on(listener);
        },
        close() {
          if (closing) return closing;
          flush();
          receiver = undefined;
          closing = Promise.resolve();
          return closing;
        },
      },
    };
    return self;
  }
}
