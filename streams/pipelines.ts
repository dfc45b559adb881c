/**
 * The data plane as RxJS operators over batches (DESIGN §1, §5: batch-shaped ports; issue 10
 * builds on this): each operator is a few lines around engine calls, every packet leaves either
 * on the other side or as a counted drop with a reason, and nothing a packet contains can end
 * a stream.
 *
 *   outbound: TUN → SPD classify → SA (encapsulate) or ACQUIRE → wire
 *   inbound:  wire → network hooks → SAD + decapsulate + replay → inbound policy check →
 *             transport hooks → TUN
 */
import { filter, map, merge, type OperatorFunction } from 'rxjs';
import type { DropReason } from '../engine/dropReasons.js';
import { decapsulateBatch, SealQueue } from '../engine/esp/batch.js';
import { decapsulate, type DecapsulateResult } from '../engine/esp/decapsulate.js';
import { encapsulate } from '../engine/esp/encapsulate.js';
import { EspSa } from '../engine/esp/espSa.js';
import type { SpdDecision } from '../engine/spd/types.js';
import { selectorFields } from '../engine/spd/selectorFields.js';
import { selectorMatches } from '../engine/spd/match.js';
import type { SelectorFields } from '../engine/spd/types.js';
import type { Gateway } from '../machines/gateway/gateway.js';

/** What a filter hook decides: let it through, drop it, or replace it. */
export type HookVerdict = 'permit' | 'drop' | { modified: Uint8Array };

/** What a transport-layer hook is told about a packet (cf. Windows' filtering-layer metadata). */
export interface TransportInfo {
  /** True when the packet arrived under an SA (decrypted and verified). */
  ipsecSecured: boolean;
  saId?: string;
  tunnelMode: boolean;
}

/**
 * Callbacks at two layers of the inbound path. Network-layer hooks see each datagram as received
 * (ESP still encrypted); transport-layer hooks see the packet that will be delivered, after
 * decryption and the inbound policy check. Tunnel-mode traffic reaches transport-layer hooks
 * only detunneled.
 */
export interface FilterHooks {
  network?: Array<(datagram: Uint8Array) => HookVerdict>;
  transport?: Array<(packet: Uint8Array, info: TransportInfo) => HookVerdict>;
}

/** What happens to a packet that matched PROTECT when there is no SA yet (the acquire manager). */
export interface SaMissHandler {
  onMiss(packet: Uint8Array, decision: Extract<SpdDecision, { action: 'protect' }>, selectorIndex: number, fields: SelectorFields): 'queued' | 'dropped' | 'passed';
}

function runHooks<A extends unknown[]>(hooks: Array<(p: Uint8Array, ...a: A) => HookVerdict> | undefined, packet: Uint8Array, ...args: A): Uint8Array | undefined {
  if (!hooks) return packet;
  for (const hook of hooks) {
    let v: HookVerdict;
    try {
      v = hook(packet, ...args);
    } catch {
      return undefined; // a throwing hook drops the packet, never the stream
    }
    if (v === 'drop') return undefined;
    if (v !== 'permit') packet = v.modified;
  }
  return packet;
}

/**
 * One outbound packet (RFC 4301 §5.1): appends what goes on the wire to `out`; everything else
 * is counted in `gw.drops`. `packet` is only read during the call (a TUN's reused buffer is
 * fine): what is kept or sent is a copy or a new buffer. `miss` defaults to the gateway's acquire manager; `null` drops
 * SA misses as `noSa`. With a `queue`, ESP packets are sealed at `queue.flush()` (a batch's
 * crypto in one call per SA): flush before `out` leaves.
 *
 * @example
 * const wire: Uint8Array[] = []; processOutbound(gw, ipPacket, wire);
 */
export function processOutbound(gw: Gateway, packet: Uint8Array, out: Uint8Array[], miss: SaMissHandler | null = gw.acquires, queue?: SealQueue): void {
  const f = selectorFields(packet, 'outbound');
  if (!f.ok) return gw.drops.count(f.reason);
  const d = gw.spd.classifyOutbound(f);
  if (d.action !== 'protect') {
    // A copy: `packet` may be a view into a buffer the TUN reuses at its next read.
    if (d.action === 'bypass') out.push(packet.slice());
    else gw.drops.count('discarded');
    return;
  }
  const entry = gw.sad.outboundFor(d.policy.id);
  const sa = entry?.sa;
  if (!(sa instanceof EspSa)) {
    // RFC 4301 §5.1 step 3a: no SA yet → the key manager is asked (ACQUIRE); the miss
    // handler counts its own drops.
    if (!miss) return gw.drops.count('noSa');
    const selectorIndex = d.policy.selectors.findIndex((s) => selectorMatches(s, f));
    const held = packet.slice(); // it may wait for its SA: not a view of a reused TUN buffer
    if (miss.onMiss(held, d, selectorIndex, f) === 'passed') out.push(held);
    return;
  }
  const r = gw.nicTransmit(sa, packet) ?? encapsulate(packet, sa, gw.iv, queue);
  if (!r.ok) {
    gw.drops.count(r.reason, sa.config.id);
    if (r.reason === 'seqExhausted') gw.sequenceExhausted(sa);
    return;
  }
  out.push(r.packet);
  gw.metered(sa);
}

/**
 * One inbound datagram (RFC 4301 §5.2): appends what is delivered to `out`.
 *
 * @example
 * const toTun: Uint8Array[] = []; processInbound(gw, datagram, toTun, hooks);
 */
export function processInbound(gw: Gateway, datagram: Uint8Array, out: Uint8Array[], hooks: FilterHooks = {}): void {
  const seen = runHooks(hooks.network, datagram);
  if (!seen) return gw.drops.count('filtered');
  // An offload NIC indicates every packet: opened (CryptoDone), failed, or left to software.
  const nic = gw.nicReceive(seen);
  if (nic.kind === 'drop') return gw.drops.count(nic.reason, nic.saId);
  deliverInbound(gw, seen, nic.kind === 'opened' ? { ok: true, sa: nic.sa, packet: nic.packet } : decapsulate(seen, gw.sad.espLookup), out, hooks);
}

/**
 * A batch of inbound datagrams (RFC 4301 §5.2), as `processInbound` on each in order, with the
 * ESP crypto of each SA's packets in one call (`decapsulateBatch`). With an offload NIC, whose
 * indications interleave with the software path's replay windows, it goes packet by packet.
 *
 * @example
 * const toTun: Uint8Array[] = []; processInboundBatch(gw, datagrams, toTun, hooks);
 */
export function processInboundBatch(gw: Gateway, datagrams: readonly Uint8Array[], out: Uint8Array[], hooks: FilterHooks = {}): void {
  if (gw.offload !== undefined || datagrams.length < 2) {
    for (const d of datagrams) processInbound(gw, d, out, hooks);
    return;
  }
  let seen: Uint8Array[] = datagrams as Uint8Array[];
  if (hooks.network) {
    seen = [];
    for (const d of datagrams) {
      const s = runHooks(hooks.network, d);
      if (s) seen.push(s);
      else gw.drops.count('filtered');
    }
  }
  decapsulateBatch(seen, gw.sad.espLookup, undefined, (r, i) => deliverInbound(gw, seen[i]!, r, out, hooks));
}

type Opened = DecapsulateResult | { ok: true; sa: EspSa; packet: Uint8Array };

/** After ESP: SPD-I for what is not IPsec, the inbound policy check and hooks for what is. */
function deliverInbound(gw: Gateway, seen: Uint8Array, r: Opened, out: Uint8Array[], hooks: FilterHooks): void {
  if (!r.ok) {
    if (r.reason !== 'notIpsec') return gw.drops.count(r.reason, r.sa?.config.id);
    // Not IPsec: only what SPD-I lets through in the clear (RFC 4301 §5.2 step 3).
    const f = selectorFields(seen, 'inbound');
    if (!f.ok) return gw.drops.count(f.reason);
    if (gw.spd.classifyInboundPlain(f).action !== 'bypass') return gw.drops.count('discarded');
    const plain = runHooks(hooks.transport, seen, { ipsecSecured: false, tunnelMode: false });
    if (!plain) return gw.drops.count('filtered');
    out.push(plain);
    return;
  }
  const saId = r.sa.config.id;
  gw.metered(r.sa);
  // RFC 4301 §5.2 step 4: the decrypted packet must match the policy of the SA it came on.
  const policyId = gw.sad.get(saId)?.policyId;
  if (policyId !== undefined) {
    const f = selectorFields(r.packet, 'inbound');
    if (!f.ok) return gw.drops.count(f.reason, saId);
    if (!gw.spd.checkInbound(policyId, f).ok) return gw.drops.count('policyMismatch', saId);
  }
  const delivered = runHooks(hooks.transport, r.packet, { ipsecSecured: true, saId, tunnelMode: r.sa.config.mode === 'tunnel' });
  if (!delivered) return gw.drops.count('filtered', saId);
  out.push(delivered);
}

function batchOperator(step: (batch: readonly Uint8Array[], out: Uint8Array[]) => void): OperatorFunction<readonly Uint8Array[], Uint8Array[]> {
  return (source) =>
    source.pipe(
      map((batch) => {
        const out: Uint8Array[] = [];
        step(batch, out);
        return out;
      }),
      filter((out) => out.length > 0),
    );
}

/**
 * TUN batches → wire batches: each packet classified and framed in order, then the batch's
 * ESP sealed in one call per SA. Packets an acquire held (`gw.released$`) join the stream again
 * once their SA is up, in the order they came.
 *
 * @example
 * tun.reads$.pipe(outbound(gw)).subscribe((batch) => wire.send(batch));
 */
export function outbound(gw: Gateway, miss: SaMissHandler | null = gw.acquires): OperatorFunction<readonly Uint8Array[], Uint8Array[]> {
  const queue = new SealQueue();
  const step = batchOperator((batch, out) => {
    for (const p of batch) processOutbound(gw, p, out, miss, queue);
    queue.flush();
  });
  return (source) => step(merge(source, gw.released$));
}

/**
 * Wire batches → TUN batches (`processInboundBatch`).
 *
 * @example
 * wire.receives$.pipe(inbound(gw, hooks)).subscribe((batch) => tun.write(batch));
 */
export function inbound(gw: Gateway, hooks: FilterHooks = {}): OperatorFunction<readonly Uint8Array[], Uint8Array[]> {
  return batchOperator((batch, out) => processInboundBatch(gw, batch, out, hooks));
}

export type { DropReason };
