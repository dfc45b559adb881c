/**
 * The Security Policy Database (RFC 4301 §4.4.1): an ordered list of policies, consulted for
 * every packet crossing the IPsec boundary.
 *
 * - Order: ascending `priority`; equal priorities keep insertion order (`add` appends,
 *   `replaceAll` takes the array's order). The first matching policy decides.
 * - The split of RFC 4301 §4.4.1: SPD-S (PROTECT entries), SPD-O (outbound BYPASS/DISCARD) and
 *   SPD-I (inbound BYPASS/DISCARD); `list('S' | 'O' | 'I')` shows each part. The SPD here is
 *   correlated (entries may overlap), so each lookup searches its direction's parts together in
 *   one ordered search, which is what the split means for a correlated SPD: decorrelation
 *   (RFC 4301 App. B) would make the parts independently searchable, nothing more.
 * - Unmatched traffic gets the configured default, DISCARD unless set (RFC 4301 §5.1 step 3a).
 *
 * Lookups use the classifier of ./classifier.ts, built by `replaceAll` (and the constructor)
 * before it returns. `add` and `remove` do not rebuild: added policies are searched linearly
 * beside the classifier and removed ones are masked in it, until more than 32 changes pile up in
 * a direction; the next lookup in that direction then rebuilds (about 0.5 s at 10k policies).
 * Load in bulk with `replaceAll`. Policies are copied on the way in and frozen (typed arrays
 * excepted: do not mutate the addresses of a policy the SPD returns).
 */

import type { Result } from '../dropReasons.js';
import { rangeError } from '../errors.js';
import { Classifier, type ClassifierStats } from './classifier.js';
import { compileEntry, type Entry } from './entry.js';
import { policyMatches } from './match.js';
import {
  DEFAULT_SPD_ACTION,
  type DefaultAction,
  type Policy,
  type PolicyDirection,
  type SelectorFields,
  type SpdDecision,
} from './types.js';
import { validatePolicies, validatePolicy } from './validate.js';

/** Defaults for traffic no policy matches (RFC 4301 §5.1 step 3a: DISCARD unless configured). */
export interface SpdOptions {
  defaultOutbound?: DefaultAction;
  defaultInbound?: DefaultAction;
}

/** The parts of RFC 4301 §4.4.1: PROTECT, outbound BYPASS/DISCARD, inbound BYPASS/DISCARD. */
export type SpdPart = 'S' | 'O' | 'I';

/** Outcome of the RFC 4301 §5.2 step 4 check. */
export type InboundCheck = Result<{ policy: Policy }>;

interface Stored {
  policy: Policy;
  seq: number;
  /** What a match means in the policy's direction (frozen, shared: lookups allocate nothing). */
  decision: SpdDecision;
}

/** Policies added since the last build are searched linearly, up to this many per direction. */
const OVERLAY_MAX = 32;

/** A deep copy, frozen except for typed arrays (which cannot be frozen). */
function frozenCopy<T>(v: T): T {
  if (v instanceof Uint8Array) return v.slice() as T;
  if (Array.isArray(v)) return Object.freeze(v.map(frozenCopy)) as T;
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = frozenCopy(x);
    return Object.freeze(o) as T;
  }
  return v;
}

function byKey(a: { policy: Policy; seq: number }, b: { policy: Policy; seq: number }): number {
  return a.policy.priority - b.policy.priority || a.seq - b.seq;
}

function store(policy: Policy, seq: number): Stored {
  const p = frozenCopy(policy);
  // SPD-I sees only unprotected traffic: a PROTECT entry matching it means "should have been
  // protected", so the packet is discarded (RFC 4301 §5.2 step 3a).
  const decision: SpdDecision =
    p.direction === 'inbound' && p.action === 'protect'
      ? Object.freeze({ action: 'discard', policy: p })
      : (Object.freeze({ action: p.action, policy: p }) as SpdDecision);
  return { policy: p, seq, decision };
}

/**
 * One direction's lookup structure: the classifier built over the policies present at build
 * time, plus the changes since (added policies searched linearly, removed ones masked in the
 * classifier). `stale` asks for a rebuild once the changes pile up.
 */
class DirectionIndex {
  readonly #classifier: Classifier;
  readonly #built: number;
  #overlay: Stored[] = [];
  #killed = 0;
  #mustRebuild = false;

  constructor(stored: readonly Stored[]) {
    const v4: Entry[] = [];
    const v6: Entry[] = [];
    let uid = 0;
    [...stored].sort(byKey).forEach(({ policy, seq, decision }, order) => {
      for (const s of policy.selectors) {
        const e4 = compileEntry(policy, order, seq, s, 4, decision, uid++);
        const e6 = compileEntry(policy, order, seq, s, 16, decision, uid++);
        if (e4) v4.push(e4);
        if (e6) v6.push(e6);
      }
    });
    this.#classifier = new Classifier(v4, v6);
    this.#built = stored.length;
  }

  get stale(): boolean {
    return this.#mustRebuild || this.#overlay.length > OVERLAY_MAX || this.#killed > OVERLAY_MAX + this.#built / 4;
  }

  add(s: Stored): void {
    let i = this.#overlay.length;
    while (i > 0 && byKey(this.#overlay[i - 1]!, s) > 0) i--;
    this.#overlay.splice(i, 0, s);
  }

  remove(s: Stored): void {
    const i = this.#overlay.indexOf(s);
    if (i >= 0) this.#overlay.splice(i, 1);
    else if (this.#classifier.kill(s.policy)) this.#killed++;
    else this.#mustRebuild = true;
  }

  /** The first policy matching `f` (its decision), or undefined. */
  lookup(f: SelectorFields): SpdDecision | undefined {
    const e = this.#classifier.lookup(f);
    if (e === undefined && this.#overlay.length === 0) return undefined;
    for (const s of this.#overlay) {
      if (e !== undefined && byKey(s, e) > 0) break;
      if (policyMatches(s.policy, f)) return s.decision;
    }
    return e?.decision;
  }

  stats(): ClassifierStats & { pending: number } {
    return { ...this.#classifier.stats(), pending: this.#overlay.length + this.#killed };
  }
}

/**
 * The SPD. Misuse throws `RangeError` naming the field (`policy.selectors[0].localPort.from:
 * must not exceed to`); per-packet results are values.
 *
 * @example
 * const spd = new Spd([{ id: 'ike', priority: 0, direction: 'outbound', action: 'bypass',
 *   selectors: [{ localAddress: { kind: 'any' }, remoteAddress: { kind: 'any' },
 *     protocol: { kind: 'number', value: 17 }, localPort: { kind: 'range', from: 500, to: 500 },
 *     remotePort: { kind: 'any' } }] }]);
 * const f = selectorFields(packet, 'outbound');
 * const d = f.ok ? spd.classifyOutbound(f) : undefined; // { action: 'bypass', policy } or discard
 */
export class Spd {
  #stored: Stored[] = [];
  #byId = new Map<string, Stored>();
  #seq = 0;
  #outbound: DirectionIndex | undefined;
  #inbound: DirectionIndex | undefined;
  readonly #defaultOutbound: SpdDecision;
  readonly #defaultInbound: SpdDecision;

  /** Starts with `policies` (validated as by `replaceAll`). */
  constructor(policies: readonly Policy[] = [], options: SpdOptions = {}) {
    for (const k of ['defaultOutbound', 'defaultInbound'] as const) {
      const v = options[k];
      if (v !== undefined && v !== 'bypass' && v !== 'discard') throw rangeError(`options.${k}`, `must be 'bypass' or 'discard', got ${String(v)}`);
    }
    this.#defaultOutbound = Object.freeze({ action: options.defaultOutbound ?? DEFAULT_SPD_ACTION });
    this.#defaultInbound = Object.freeze({ action: options.defaultInbound ?? DEFAULT_SPD_ACTION });
    this.replaceAll(policies);
  }

  /** Number of policies. */
  get size(): number {
    return this.#stored.length;
  }

  /**
   * Appends a policy (after every policy of the same priority). Throws `RangeError` naming the
   * field when invalid, or `policy.id` when the id is taken; the SPD is then unchanged. Cheap:
   * lookups search recent additions linearly until the next rebuild.
   *
   * @example
   * spd.add({ id: 'drop-telnet', priority: 5, direction: 'inbound', action: 'discard', selectors });
   */
  add(policy: Policy): void {
    validatePolicy(policy, 'policy');
    if (this.#byId.has(policy.id)) throw rangeError('policy.id', `'${policy.id}' is already in the SPD`);
    const s = store(policy, this.#seq++);
    this.#stored.push(s);
    this.#byId.set(policy.id, s);
    this.#index(s.policy.direction)?.add(s);
  }

  /**
   * Deletes the policy `id`; returns false when there is none. SAs that refer to it stay in the
   * SAD (RFC 4301 §4.4.2): `checkInbound` then refuses their traffic.
   *
   * @example
   * spd.remove('drop-telnet') // true
   */
  remove(id: string): boolean {
    const s = this.#byId.get(id);
    if (!s) return false;
    this.#byId.delete(id);
    this.#stored = this.#stored.filter((x) => x !== s);
    this.#index(s.policy.direction)?.remove(s);
    return true;
  }

  /**
   * Replaces every policy at once, in the array's order for equal priorities: all or nothing. On
   * a `RangeError` (naming `policies[i].<field>`) the SPD is left exactly as it was. Builds the
   * lookup structures before returning.
   *
   * @example
   * spd.replaceAll(loadedPolicies);
   */
  replaceAll(policies: readonly Policy[]): void {
    validatePolicies(policies, 'policies');
    const stored = policies.map((p, seq) => store(p, seq));
    const outbound = new DirectionIndex(stored.filter((s) => s.policy.direction === 'outbound'));
    const inbound = new DirectionIndex(stored.filter((s) => s.policy.direction === 'inbound'));
    this.#stored = stored;
    this.#byId = new Map(stored.map((s) => [s.policy.id, s]));
    this.#seq = stored.length;
    this.#outbound = outbound;
    this.#inbound = inbound;
  }

  /** The policy `id` (the SPD's frozen copy), or undefined. @example spd.get('ike') */
  get(id: string): Policy | undefined {
    return this.#byId.get(id)?.policy;
  }

  /**
   * Policies in lookup order; with `part`, only SPD-S (PROTECT), SPD-O (outbound BYPASS and
   * DISCARD) or SPD-I (inbound BYPASS and DISCARD).
   *
   * @example
   * spd.list('S').map((p) => p.id)
   */
  list(part?: SpdPart): Policy[] {
    const keep = (p: Policy): boolean =>
      part === undefined ||
      (part === 'S' ? p.action === 'protect' : p.action !== 'protect' && p.direction === (part === 'O' ? 'outbound' : 'inbound'));
    return [...this.#stored].sort(byKey).map((s) => s.policy).filter(keep);
  }

  /**
   * RFC 4301 §5.1 steps 1-3: the first outbound policy (SPD-S and SPD-O) matching the packet,
   * or the default. `fields` from `selectorFields(packet, 'outbound')`. Allocates nothing.
   *
   * @example
   * const d = spd.classifyOutbound(fields);
   * if (d.action === 'protect') sadLookupByPolicy(d.policy.id);
   */
  classifyOutbound(fields: SelectorFields): SpdDecision {
    return this.#ready('outbound').lookup(fields) ?? this.#defaultOutbound;
  }

  /**
   * RFC 4301 §5.2 step 3a: what to do with an inbound packet that is not IPsec (or is IPsec
   * addressed elsewhere): the first inbound policy it matches decides BYPASS or DISCARD; a
   * PROTECT policy matching it means it should have arrived protected, so DISCARD (the decision
   * names that policy). Unmatched: the default. `fields` from `selectorFields(p, 'inbound')`.
   *
   * @example
   * if (spd.classifyInboundPlain(fields).action !== 'bypass') drop();
   */
  classifyInboundPlain(fields: SelectorFields): SpdDecision {
    return this.#ready('inbound').lookup(fields) ?? this.#defaultInbound;
  }

  /**
   * RFC 4301 §5.2 step 4: after decryption, the packet must match the policy of the SA it came
   * in on. Because this SPD is correlated, that is an ordered search (RFC 4301 §4.4.1: without
   * decorrelation, "an ordered search of the SPD" verifies inbound traffic): the first inbound
   * policy the packet matches must be `policyId`, a PROTECT policy. Otherwise — another policy
   * comes first, no policy matches, or `policyId` is gone — `policyMismatch`.
   *
   * @example
   * const c = spd.checkInbound(sa.policyId, selectorFieldsOfIp(inner, 'inbound'));
   * if (!c.ok) drops.count(c.reason, sa.id);
   */
  checkInbound(policyId: string, fields: SelectorFields): InboundCheck {
    const policy = this.#ready('inbound').lookup(fields)?.policy;
    if (policy === undefined || policy.id !== policyId || policy.action !== 'protect') return { ok: false, reason: 'policyMismatch' };
    return { ok: true, policy };
  }

  /**
   * Shape of the lookup structures per direction (for benchmarks and tests); `pending` counts
   * changes since the last build.
   */
  stats(): Record<PolicyDirection, ClassifierStats & { pending: number }> {
    return { outbound: this.#ready('outbound').stats(), inbound: this.#ready('inbound').stats() };
  }

  #index(direction: PolicyDirection): DirectionIndex | undefined {
    return direction === 'outbound' ? this.#outbound : this.#inbound;
  }

  /** The direction's index, rebuilt first when changes have piled up since the last build. */
  #ready(direction: PolicyDirection): DirectionIndex {
    let index = this.#index(direction);
    if (index === undefined || index.stale) {
      index = new DirectionIndex(this.#stored.filter((s) => s.policy.direction === direction));
      if (direction === 'outbound') this.#outbound = index;
      else this.#inbound = index;
    }
    return index;
  }
}
