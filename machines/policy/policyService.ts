/**
 * The one way a policy enters or leaves the live SPD, whoever asks (the policy file, the CLI,
 * SNMP, PF_KEY): each change is decided by the policy aggregate (engine/aggregates/policy.ts),
 * its facts are appended to `policy-<id>` with the version this service folded (write-ahead,
 * DESIGN §3), and only then is the SPD changed, in one synchronous step, so the data path sees
 * the whole batch or none of it. Batches run one at a time, in call order.
 *
 * Who owns a policy, when a source (the policy file) `load`s the whole set it defines:
 * - the source owns the ids it names: each is put as the source says (a version changed over
 *   SNMP or the CLI is replaced, recorded as a fact from the source);
 * - of the ids it does not name, it removes those whose last fact came through the same channel
 *   (`via`: for the policy file, whatever path it was read from, since a gateway has one), and
 *   leaves the others: a rule made over SNMP survives a file reload until SNMP removes it;
 * - among equal priorities the source's policies come first, in its order, then the others in
 *   the order they came: the SPD a reload gives is the one a restart gives.
 * The SNMP agent reaches this service through its own port (adapters/snmp/policyPort.ts), which
 * this class satisfies.
 */
import { decidePolicy, evolvePolicy, initialPolicyState, type PolicyCommand, type PolicyState } from '../../engine/aggregates/policy.js';
import { IpsecError } from '../../engine/errors.js';
import type { Fact } from '../../engine/events/fact.js';
import type { PolicyFact, PolicySource } from '../../engine/events/otherFacts.js';
import { policyStream } from '../../engine/events/streams.js';
import type { Spd } from '../../engine/spd/spd.js';
import type { Policy } from '../../engine/spd/types.js';
import { validatePolicy } from '../../engine/spd/validate.js';
import type { Clock, FactLog, Random } from '../ports.js';
import { policyFromData, policyToData, samePolicy } from '../../engine/policy/policyData.js';

/** One change: put (add, or replace when the id is in the SPD) or remove. */
export type PolicyChange = { kind: 'put'; policy: Policy } | { kind: 'remove'; id: string };

/** What a batch did, per policy: the facts recorded (none when it changed nothing). */
export interface AppliedChange {
  id: string;
  facts: PolicyFact[];
}

export interface PolicyServiceOptions {
  spd: Spd;
  log: FactLog;
  clock: Pick<Clock, 'now'>;
  random: Pick<Random, 'uuid'>;
}

/**
 * @example
 * const policies = new PolicyService({ spd: gw.spd, log, clock, random });
 * await policies.apply([{ kind: 'put', policy }], { via: 'snmp', who: 'private@127.0.0.1' });
 */
export class PolicyService {
  readonly #o: PolicyServiceOptions;
  readonly #states = new Map<string, PolicyState>();
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<(changes: AppliedChange[], source: PolicySource) => void>();

  constructor(options: PolicyServiceOptions) {
    this.#o = options;
  }

  get spd(): Spd {
    return this.#o.spd;
  }

  /** The folded state of policy `id` as far as this service has read it. */
  state(id: string): PolicyState | undefined {
    return this.#states.get(id);
  }

  /** Called after each batch that changed the SPD (SNMP uses it to follow changes made elsewhere). */
  onChange(listener: (changes: AppliedChange[], source: PolicySource) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Applies a batch: every policy is validated and every decision taken before anything is
   * appended; the SPD changes only after the facts are durable. Rejects with a `RangeError`
   * (invalid policy, nothing recorded), an `IpsecError` `policy.ruleViolation`, or the store's
   * error (a version conflict: another writer; this service re-reads the stream next time).
   *
   * @example
   * await policies.apply([{ kind: 'remove', id: 'drop-telnet' }], { via: 'cli', who: 'root' });
   */
  apply(changes: readonly PolicyChange[], source: PolicySource): Promise<AppliedChange[]> {
    return this.#enqueue(() => this.#apply(changes, source));
  }

  /**
   * Records the SPD as a file (or any other source) defines it, by the ownership rule above:
   * puts for `policies`, removes for every active policy last changed through `source.via` that
   * is not among them; the SPD then holds `policies` in their order among equal priorities.
   * Call `restore` first after a restart, so that this service knows what the log holds.
   *
   * @example
   * await policies.load(file.policies, { via: 'file', file: file.path });
   */
  load(policies: readonly Policy[], source: PolicySource): Promise<AppliedChange[]> {
    return this.#enqueue(() => {
      const keep = new Set(policies.map((p) => p.id));
      const gone = [...this.#states].filter(([id, s]) => s.status === 'active' && !keep.has(id) && s.source?.via === source.via).map(([id]) => id);
      const changes = [...policies.map((policy) => ({ kind: 'put' as const, policy })), ...gone.map((id) => ({ kind: 'remove' as const, id }))];
      return this.#apply(changes, source, policies.map((p) => p.id));
    });
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Folds the streams of `ids` (after a restart) and puts every active policy that the SPD lacks
   * back into it: a policy made over SNMP or the CLI has no other record than its facts.
   *
   * @example
   * await policies.restore(streamNames.filter((s) => s.startsWith('policy-')).map((s) => s.slice(7)));
   */
  restore(ids: readonly string[]): Promise<string[]> {
    return this.#enqueue(async () => {
      const restored: string[] = [];
      for (const id of ids) {
        const state = await this.#load(id, true);
        if (state.status !== 'active' || this.#o.spd.get(id)) continue;
        const policy = policyFromData(state.policy);
        validatePolicy(policy, `policy-${id}`);
        this.#o.spd.add(policy);
        restored.push(id);
      }
      return restored;
    });
  }

  async #load(id: string, fresh = false): Promise<PolicyState> {
    const known = this.#states.get(id);
    if (known && !fresh) return known;
    const facts = (await this.#o.log.read(policyStream(id))) as PolicyFact[];
    const state = facts.reduce(evolvePolicy, initialPolicyState);
    this.#states.set(id, state);
    return state;
  }

  /** `order`: a `load`'s ids in its source's order (see the class doc). */
  async #apply(changes: readonly PolicyChange[], source: PolicySource, order?: readonly string[]): Promise<AppliedChange[]> {
    // 1. Validate the whole batch: nothing is recorded for a batch with one bad policy.
    const seen = new Set<string>();
    changes.forEach((c, i) => {
      const id = c.kind === 'put' ? c.policy.id : c.id;
      if (c.kind === 'put') validatePolicy(c.policy, `changes[${i}].policy`);
      if (seen.has(id)) throw new RangeError(`changes[${i}]: policy '${id}' appears twice in one batch`);
      seen.add(id);
    });
    // 2. Decide every change against the folded state (what the log says, not what the SPD holds).
    const decided: Array<{ change: PolicyChange; id: string; state: PolicyState; facts: PolicyFact[] }> = [];
    for (const change of changes) {
      const id = change.kind === 'put' ? change.policy.id : change.id;
      const state = await this.#load(id);
      let command: PolicyCommand;
      if (change.kind === 'remove') command = { type: 'RemovePolicy', source };
      else if (state.status === 'active') command = { type: 'ReplacePolicy', policy: policyToData(change.policy), source };
      else command = { type: 'AddPolicy', policy: policyToData(change.policy), source };
      let facts = decidePolicy(command, state, { nowMs: this.#o.clock.now(), newId: () => this.#o.random.uuid() });
      // Replacing with the same policy records nothing (key order and address spelling aside).
      if (command.type === 'ReplacePolicy' && state.policy !== undefined && samePolicy(policyFromData(state.policy), (change as { policy: Policy }).policy)) facts = [];
      decided.push({ change, id, state, facts });
    }
    // 3. Append (write-ahead), then 4. apply what is durable to the SPD in one synchronous step.
    const durable: typeof decided = [];
    let failure: unknown;
    for (const d of decided) {
      if (d.facts.length > 0) {
        try {
          await this.#o.log.append(policyStream(d.id), d.facts as Fact[], d.state.version);
        } catch (e) {
          failure = e;
          this.#states.delete(d.id); // another writer: read the stream again next time
          break;
        }
        this.#states.set(d.id, d.facts.reduce(evolvePolicy, d.state));
      }
      durable.push(d);
    }
    if (order && failure === undefined) this.#loadIntoSpd(changes, order);
    else this.#applyToSpd(durable.map((d) => d.change));
    const applied = durable.filter((d) => d.facts.length > 0).map((d) => ({ id: d.id, facts: d.facts }));
    if (applied.length > 0) for (const l of this.#listeners) l(applied, source);
    if (failure !== undefined) throw failure instanceof Error ? failure : new IpsecError('store.appendFailed', String(failure));
    return applied;
  }

  /**
   * A whole `load`: the source's policies in its order, then the others in their current order;
   * one `replaceAll` (all or nothing), skipped when that is what the SPD holds already.
   */
  #loadIntoSpd(changes: readonly PolicyChange[], order: readonly string[]): void {
    const spd = this.#o.spd;
    const puts = new Map(changes.flatMap((c) => (c.kind === 'put' ? [[c.policy.id, c.policy] as const] : [])));
    const removed = new Set(changes.flatMap((c) => (c.kind === 'remove' ? [c.id] : [])));
    const named = new Set(order);
    const current = spd.list();
    const target = [...order.map((id) => puts.get(id)!), ...current.filter((p) => !named.has(p.id) && !removed.has(p.id))];
    // What replaceAll(target) gives: ascending priority, the array's order among equals.
    const next = target.map((p, i) => ({ p, i })).sort((a, b) => a.p.priority - b.p.priority || a.i - b.i).map((x) => x.p);
    if (next.length === current.length && next.every((p, i) => p.id === current[i]!.id && samePolicy(p, current[i]!))) return;
    spd.replaceAll(target);
  }

  /** All of `changes` or none: the data path never sees half a batch. */
  #applyToSpd(changes: readonly PolicyChange[]): void {
    const spd = this.#o.spd;
    const before = spd.list();
    try {
      for (const c of changes) {
        if (c.kind === 'remove') spd.remove(c.id);
        else {
          const current = spd.get(c.policy.id);
          if (current && samePolicy(current, c.policy)) continue;
          spd.remove(c.policy.id);
          spd.add(c.policy);
        }
      }
    } catch (e) {
      spd.replaceAll(before); // validated above, so unreachable unless the SPD's rules changed
      throw e;
    }
  }
}
