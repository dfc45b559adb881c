import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  acquireBackoffMs,
  AcquireRuleViolation,
  decideAcquire,
  evolveAcquire,
  initialAcquireState,
  type AcquireCommand,
  type AcquireState,
} from '../../../engine/aggregates/acquire.js';
import type { CommandContext } from '../../../engine/events/fact.js';
import type { AcquireFact } from '../../../engine/events/otherFacts.js';

const T0 = 1_700_000_000_000;
const PACKET = { localAddress: '10.0.0.1', remoteAddress: '10.9.0.1', protocol: 6, localPort: 40000, remotePort: 443 };
const RAISE: AcquireCommand = { type: 'RaiseAcquire', policyId: 'web', selectorIndex: 0, selector: '10.0.0.1[40000] → 10.9.0.1[443] proto 6', packet: PACKET };

function context(): CommandContext & { tick(ms: number): void } {
  let now = T0;
  let n = 0;
  return { get nowMs() { return now; }, newId: () => `f-${++n}`, correlationId: 'acq-1', tick(ms) { now += ms; } } as CommandContext & { tick(ms: number): void };
}

/** Given commands (each decided and folded, 1 s apart), then the state, the log and the context. */
function given(commands: AcquireCommand[], stepMs = 1000): { state: AcquireState; ctx: ReturnType<typeof context>; log: AcquireFact[] } {
  const ctx = context();
  let state = initialAcquireState;
  const log: AcquireFact[] = [];
  for (const c of commands) {
    const facts = decideAcquire(c, state, ctx);
    state = facts.reduce(evolveAcquire, state);
    log.push(...facts);
    ctx.tick(stepMs);
  }
  return { state, ctx, log };
}

describe('acquire decider, given/when/then', () => {
  it('a raise records AcquireRaised (attempt 1) with the triggering flow; repeats while pending record nothing', () => {
    const { state, log } = given([RAISE, RAISE, RAISE]);
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised']);
    expect(log[0]!.data).toEqual({ policyId: 'web', selectorIndex: 0, selector: '10.0.0.1[40000] → 10.9.0.1[443] proto 6', packet: PACKET, attempt: 1 });
    expect(log[0]!.meta).toMatchObject({ at: new Date(T0).toISOString(), correlationId: 'acq-1' });
    expect(state).toMatchObject({ status: 'pending', attempt: 1, version: 1, policyId: 'web', selectorIndex: 0 });
  });

  it('satisfied once: the SAs are recorded, a second satisfy records nothing, a later raise is refused', () => {
    const { state, ctx, log } = given([RAISE, { type: 'SatisfyAcquire', saIds: ['out', 'in'] }, { type: 'SatisfyAcquire', saIds: ['out', 'in'] }]);
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireSatisfied']);
    expect(state).toMatchObject({ status: 'satisfied', saIds: ['out', 'in'] });
    expect(() => decideAcquire(RAISE, state, ctx)).toThrow(AcquireRuleViolation);
    expect(() => decideAcquire(RAISE, state, ctx)).toThrow(/a new miss raises a new acquire/);
  });

  it('a failure backs off until retryAt; a raise before it is refused, after it is attempt 2', () => {
    const { state, ctx } = given([RAISE, { type: 'FailAcquire', reason: 'NO_PROPOSAL_CHOSEN', retryInMs: 4000 }], 0);
    expect(state).toMatchObject({ status: 'backoff', lastFailure: { reason: 'NO_PROPOSAL_CHOSEN' }, retryAt: new Date(T0 + 4000).toISOString() });
    ctx.tick(3999);
    expect(() => decideAcquire(RAISE, state, ctx)).toThrow(/waits for the backoff/);
    ctx.tick(1);
    const [again] = decideAcquire(RAISE, state, ctx);
    expect(again).toMatchObject({ type: 'AcquireRaised', data: { attempt: 2 } });
    const next = evolveAcquire(state, again!);
    expect(next.retryAt).toBeUndefined();
    expect(next).toMatchObject({ status: 'pending', attempt: 2, firstRaisedAt: new Date(T0).toISOString(), raisedAt: new Date(T0 + 4000).toISOString() });
  });

  it('a timeout backs off like a failure, with reason "timeout"', () => {
    const { state, log } = given([RAISE, { type: 'TimeOutAcquire', retryInMs: 1000 }]);
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireTimedOut']);
    expect(state).toMatchObject({ status: 'backoff', lastFailure: { reason: 'timeout' } });
  });

  it('only a pending negotiation fails or times out', () => {
    const none = given([]);
    expect(() => decideAcquire({ type: 'FailAcquire', reason: 'x', retryInMs: 1 }, none.state, none.ctx)).toThrow(/only a pending negotiation/);
    const backoff = given([RAISE, { type: 'TimeOutAcquire', retryInMs: 1000 }]);
    expect(() => decideAcquire({ type: 'TimeOutAcquire', retryInMs: 1 }, backoff.state, backoff.ctx)).toThrow(AcquireRuleViolation);
    expect(() => decideAcquire({ type: 'FailAcquire', reason: 'x', retryInMs: -1 }, given([RAISE]).state, none.ctx)).toThrow(RangeError);
  });

  it('the SA may come up during the backoff (negotiated by the peer): satisfied', () => {
    const { state } = given([RAISE, { type: 'FailAcquire', reason: 'x', retryInMs: 60_000 }, { type: 'SatisfyAcquire', saIds: ['out', 'in'] }]);
    expect(state).toMatchObject({ status: 'satisfied' });
    expect(state.retryAt).toBeUndefined();
  });

  it('a raise for another (policy, selector) is refused; so is satisfying with no SAs or before any raise', () => {
    const { state, ctx } = given([RAISE]);
    expect(() => decideAcquire({ ...RAISE, selectorIndex: 1 } as AcquireCommand, state, ctx)).toThrow(/web\/0/);
    expect(() => decideAcquire({ type: 'SatisfyAcquire', saIds: [] }, state, ctx)).toThrow(RangeError);
    expect(() => decideAcquire({ type: 'SatisfyAcquire', saIds: ['a'] }, initialAcquireState, ctx)).toThrow(/only a raised acquire/);
  });

  it('abandon: once, from pending or backoff; nothing to abandon before a raise', () => {
    const { state, log } = given([RAISE, { type: 'TimeOutAcquire', retryInMs: 1 }, { type: 'AbandonAcquire', reason: 'idle' }, { type: 'AbandonAcquire', reason: 'cancelled' }]);
    expect(log.map((f) => f.type)).toEqual(['AcquireRaised', 'AcquireTimedOut', 'AcquireAbandoned']);
    expect(state).toMatchObject({ status: 'abandoned', abandoned: { reason: 'idle' } });
    expect(() => decideAcquire({ type: 'AbandonAcquire', reason: 'idle' }, initialAcquireState, context())).toThrow(/no acquire to abandon/);
  });

  it('backoff doubles from initialMs and stops at maxMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((a) => acquireBackoffMs(a))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(acquireBackoffMs(3, { initialMs: 100, maxMs: 250 })).toBe(250);
  });

  it('an unknown fact only advances the version', () => {
    const { state } = given([RAISE]);
    const next = evolveAcquire(state, { type: 'AcquireFromTheFuture', data: {}, meta: { id: 'x', at: new Date(T0).toISOString(), schemaVersion: 1 } } as unknown as AcquireFact);
    expect(next).toEqual({ ...state, version: 2 });
  });
});

const commandArb: fc.Arbitrary<AcquireCommand> = fc.oneof(
  fc.constant(RAISE),
  fc.constant<AcquireCommand>({ type: 'SatisfyAcquire', saIds: ['out', 'in'] }),
  fc.record({ type: fc.constant('FailAcquire' as const), reason: fc.string(), retryInMs: fc.nat(5000) }),
  fc.record({ type: fc.constant('TimeOutAcquire' as const), retryInMs: fc.nat(5000) }),
  fc.record({ type: fc.constant('AbandonAcquire' as const), reason: fc.constantFrom('idle' as const, 'cancelled' as const) }),
);

describe('acquire fold laws', () => {
  test.prop([fc.array(commandArb, { maxLength: 30 }), fc.nat(30)])('folding a prefix then the rest equals folding all; version = facts', (commands, cut) => {
    const ctx = context();
    let state = initialAcquireState;
    const log: AcquireFact[] = [];
    for (const c of commands) {
      try {
        const facts = decideAcquire(c, state, ctx);
        state = facts.reduce(evolveAcquire, state);
        log.push(...facts);
      } catch (e) {
        expect(e).toBeInstanceOf(AcquireRuleViolation);
      }
      ctx.tick(10_000);
    }
    const k = Math.min(cut, log.length);
    const prefix = log.slice(0, k).reduce(evolveAcquire, initialAcquireState);
    expect(log.slice(k).reduce(evolveAcquire, prefix)).toEqual(state);
    expect(state.version).toBe(log.length);
    expect(log.filter((f) => f.type === 'AcquireSatisfied').length).toBeLessThanOrEqual(1);
  });
});
