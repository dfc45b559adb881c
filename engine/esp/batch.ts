/**
 * ESP over batches (issue 10, the way VPP and wireguard-go go): the framing stays per packet,
 * the crypto of a batch runs in one call per SA (`EspTransform.sealBatch` / `openBatch`, one
 * native call on the native back end), so the per-call toll is paid once per batch.
 *
 * Both keep the per-packet semantics exactly: the same bytes, the same sequence numbers, the
 * same drop reasons in the same order, the same replay windows afterwards (property-tested
 * against packet-by-packet `encapsulate`/`decapsulate`).
 */
import type { DropCounters } from '../dropReasons.js';
import type { EspTransform } from '../crypto/types.js';
import { checkEsp, finishDatagram, finishEsp, locateEsp, type CheckedEsp, type DecapsulateResult, type Drop, type Outer, type SaLookup } from './decapsulate.js';

/**
 * Packets framed by `encapsulate(…, queue)` and waiting to be sealed: `flush()` seals them all,
 * one `sealBatch` call per SA. Reusable: `flush` empties it.
 *
 * @example
 * const q = new SealQueue();
 * for (const p of batch) { const r = encapsulate(p, sa, iv, q); if (r.ok) wire.push(r.packet); }
 * q.flush(); // now the packets in `wire` are sealed
 */
export class SealQueue {
  #transforms: EspTransform[] = [];
  #esps: Uint8Array[] = [];
  #seqHis: number[] = [];
  #n = 0;

  /** Queues `esp` (SPI..ICV, framed, unsealed) for `t`; `seqHi` as `EspTransform.seal` takes it. */
  add(t: EspTransform, esp: Uint8Array, seqHi: number | undefined): void {
    const i = this.#n++;
    this.#transforms[i] = t;
    this.#esps[i] = esp;
    this.#seqHis[i] = seqHi ?? -1;
  }

  get size(): number {
    return this.#n;
  }

  /** Seals every queued packet and empties the queue. */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    this.#n = 0;
    const ts = this.#transforms;
    const first = ts[0]!;
    let one = true;
    for (let i = 1; i < n && one; i++) one = ts[i] === first;
    if (one) {
      // The common case: a batch from one tunnel, one SA.
      first.sealBatch(this.#esps, n, this.#seqHis[0] === -1 ? undefined : Uint32Array.from(this.#seqHis.slice(0, n)));
    } else {
      for (const [t, g] of groups(ts, n)) {
        const esps = g.map((i) => this.#esps[i]!);
        t.sealBatch(esps, esps.length, this.#seqHis[g[0]!] === -1 ? undefined : Uint32Array.from(g, (i) => this.#seqHis[i]!));
      }
    }
    // Drop the references: the packets belong to the caller now.
    this.#esps.fill(EMPTY, 0, n);
    this.#transforms.length = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** Indexes `0..n` grouped by transform, groups in first-seen order, indexes in order. */
function groups(ts: readonly EspTransform[], n: number): Map<EspTransform, number[]> {
  const m = new Map<EspTransform, number[]>();
  for (let i = 0; i < n; i++) {
    const g = m.get(ts[i]!);
    if (g) g.push(i);
    else m.set(ts[i]!, [i]);
  }
  return m;
}

interface Pending {
  ip: Outer;
  esp: Uint8Array;
  checked: CheckedEsp;
  /** 1 when the ICV verified in the batch call (under `checked.seqHi`), 0 when it did not, -1 when it was not tried. */
  ok: number;
}

/**
 * `decapsulate` over a batch (RFC 4303 §3.4): every datagram is located and checked (SA lookup,
 * ESN high bits, replay check), the checked ones are opened in one `openBatch` call per SA, then
 * each is finished in arrival order (replay window advance, trailer, mode). Datagrams are
 * consumed as `decapsulate` consumes them; drops are counted in `drops`, usage per SA.
 *
 * Exactly `decapsulate` applied in order: a packet's replay verdict and ESN high bits are taken
 * again at its turn (an earlier packet of the batch may have moved the window, RFC 4303
 * §3.4.3), and one whose high bits changed is opened again under the right ones.
 *
 * `each` is called with every result in arrival order, right after its usage is counted: what a
 * packet-by-packet caller does between two `decapsulate` calls (metering, delivery) goes there.
 *
 * @example
 * const results = decapsulateBatch(datagrams, sad.espLookup, drops);
 */
export function decapsulateBatch(
  datagrams: readonly Uint8Array[],
  lookup: SaLookup,
  drops?: DropCounters,
  each?: (r: DecapsulateResult, i: number) => void,
): DecapsulateResult[] {
  const n = datagrams.length;
  const results: Array<DecapsulateResult | Pending> = new Array(n);
  let byTransform: Map<EspTransform, number[]> | undefined;
  for (let i = 0; i < n; i++) {
    const at = locateEsp(datagrams[i]!, lookup);
    if (!at.ok) {
      results[i] = at;
      continue;
    }
    const checked = checkEsp(at.esp, at.ip.dst, lookup, false);
    if (!checked.ok) {
      results[i] = checked;
      continue;
    }
    results[i] = { ip: at.ip, esp: at.esp, checked, ok: -1 };
    // §3.4.3: what the window refuses now it refuses at its turn too (the window only moves
    // forward), but the reason may change (replayed → tooOld): the verdict is taken then.
    if (checked.sa.replay!.check(checked.seqHi, checked.seqLo) !== 'ok') continue;
    const t = checked.sa.transform;
    byTransform ??= new Map();
    const g = byTransform.get(t);
    if (g) g.push(i);
    else byTransform.set(t, [i]);
  }
  if (byTransform) {
    // §3.4.4: integrity first, for the whole batch of each SA in one call.
    for (const [t, g] of byTransform) {
      const esps = g.map((i) => (results[i] as Pending).esp);
      const sa = (results[g[0]!] as Pending).checked.sa;
      const his = sa.esn ? Uint32Array.from(g, (i) => (results[i] as Pending).checked.seqHi) : undefined;
      const ok = new Uint8Array(g.length);
      t.openBatch(esps, g.length, his, ok);
      for (let k = 0; k < g.length; k++) (results[g[k]!] as Pending).ok = ok[k]!;
    }
  }
  const out = results as DecapsulateResult[];
  for (let i = 0; i < n; i++) {
    const r = results[i]!;
    const finished = 'checked' in r ? finish(datagrams[i]!, r) : r;
    out[i] = finished;
    if (!finished.ok) {
      drops?.count(finished.reason, finished.sa?.id);
    } else {
      finished.sa.usage.packets++;
      finished.sa.usage.bytes += finished.payloadLength;
    }
    each?.(finished, i);
  }
  return out;
}

const authFailed = (c: CheckedEsp): Drop => ({ ok: false, reason: 'authFailed', sa: c.sa });

function finish(datagram: Uint8Array, p: Pending): DecapsulateResult {
  const { sa, seqLo } = p.checked;
  const replay = sa.replay!;
  // At this packet's turn: an earlier packet of the batch may have moved the window.
  const seqHi = replay.inferSeqHi(seqLo);
  const verdict = replay.check(seqHi, seqLo);
  if (verdict !== 'ok') return { ok: false, reason: verdict, sa };
  let checked = p.checked;
  if (seqHi !== checked.seqHi || p.ok === -1) {
    // ESN: the high bits changed under it. What verified under the old ones cannot under these
    // (the ICV covers them, RFC 4303 §2.2.1); what did not verify is untouched: try again.
    if (p.ok === 1) return authFailed(checked);
    checked = { ...checked, seqHi };
    if (!sa.transform.open(p.esp, sa.esn ? seqHi : undefined)) return authFailed(checked);
  } else if (p.ok !== 1) {
    return authFailed(checked);
  }
  const opened = finishEsp(p.esp, checked);
  if (!opened.ok) return opened;
  return finishDatagram(datagram, p.ip, opened);
}
