import { IpsecError } from '../errors.js';
import { fact, type CommandContext } from '../events/fact.js';
import type { PolicyFact, PolicySource } from '../events/otherFacts.js';

export interface PolicyState {
  status: 'none' | 'active' | 'removed';
  version: number;
  /** The policy as data (JSON-safe SPD types). */
  policy?: unknown;
  source?: PolicySource;
  lastAt?: string;
}

export const initialPolicyState: PolicyState = { status: 'none', version: 0 };

export type PolicyCommand =
  | { type: 'AddPolicy'; policy: unknown; source: PolicySource }
  | { type: 'ReplacePolicy'; policy: unknown; source: PolicySource }
  | { type: 'RemovePolicy'; source: PolicySource };

/**
 * Decides a policy change (from the file, the CLI, SNMP or PF_KEY): the same facts whoever asks.
 * Replacing with an identical policy records nothing.
 *
 * @example
 * decidePolicy({ type: 'AddPolicy', policy, source: { via: 'file', file: 'policy.xml' } }, state, ctx)
 */
export function decidePolicy(command: PolicyCommand, state: PolicyState, ctx: CommandContext): PolicyFact[] {
  const violation = (rule: string) => new IpsecError('policy.ruleViolation', `${command.type} is not allowed while the policy is ${state.status}: ${rule}`);
  switch (command.type) {
    case 'AddPolicy':
      if (state.status === 'active') throw violation('it exists; replace it instead');
      return [fact('PolicyAdded', { policy: command.policy, source: command.source }, ctx)];
    case 'ReplacePolicy':
      if (state.status !== 'active') throw violation('only an active policy is replaced');
      if (JSON.stringify(state.policy) === JSON.stringify(command.policy)) return [];
      return [fact('PolicyReplaced', { policy: command.policy, source: command.source }, ctx)];
    case 'RemovePolicy':
      if (state.status !== 'active') return [];
      return [fact('PolicyRemoved', { source: command.source }, ctx)];
  }
}

/** Folds a policy fact. @example facts.reduce(evolvePolicy, initialPolicyState) */
export function evolvePolicy(state: PolicyState, f: PolicyFact): PolicyState {
  const next = { ...state, version: state.version + 1, lastAt: f.meta.at };
  switch (f.type) {
    case 'PolicyAdded':
    case 'PolicyReplaced':
      return { ...next, status: 'active', policy: f.data.policy, source: f.data.source };
    case 'PolicyRemoved':
      return { ...next, status: 'removed', source: f.data.source };
    default:
      return next;
  }
}
