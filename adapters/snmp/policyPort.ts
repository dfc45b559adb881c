/**
 * What the SNMP agent needs from whoever owns the SPD (DESIGN §1: an adapter never imports a
 * machine). `PolicyService` (machines/policy) satisfies it; the host checks that with
 * `satisfies SnmpPolicyPort` where it wires the two (cli/snmpOption.ts).
 */
import type { PolicySource } from '../../engine/events/otherFacts.js';
import type { Policy } from '../../engine/spd/types.js';

/** One change asked for by a Set: put (add, or replace the policy of that id) or remove. */
export type SnmpPolicyChange = { kind: 'put'; policy: Policy } | { kind: 'remove'; id: string };

/**
 * The policy owner as the agent sees it.
 *
 * @example
 * const port: SnmpPolicyPort = policies; // a PolicyService
 * await port.apply([{ kind: 'remove', id: 'web-bypass' }], { via: 'snmp', who: 'ops@127.0.0.1' });
 */
export interface SnmpPolicyPort {
  /** The live SPD, read only: what managers see as rows. */
  readonly spd: { list(): readonly Policy[]; get(id: string): Policy | undefined };
  /** Who last changed policy `id`, from its facts (undefined: no fact seen). */
  state(id: string): { source?: PolicySource } | undefined;
  /**
   * Records the batch as facts, then changes the SPD, all or nothing; rejects (nothing changed
   * for the rejected part) with the reason.
   */
  apply(changes: readonly SnmpPolicyChange[], source: PolicySource): Promise<unknown>;
  /** Called after each batch that changed the SPD, whoever asked; returns the unsubscribe. */
  onChange(listener: (changes: ReadonlyArray<{ id: string }>, source: PolicySource) => void): () => void;
}
