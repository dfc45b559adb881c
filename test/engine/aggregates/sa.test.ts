import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { decideSa, evolveSa, initialSaState, SaRuleViolation, type SaCommand, type SaState } from '../../../engine/aggregates/sa.js';
import type { CommandContext } from '../../../engine/events/fact.js';
import type { SaFact, SaParams } from '../../../engine/events/saFacts.js';

const PARAMS: SaParams = {
  spi: 0x1001, protocol: 'esp', direction: 'outbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128,
  lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }, policyId: 'p1', keyRef: 'k-1', keyFingerprint: 'sha256:ab',
};

function context(start = 1_700_000_000_000): CommandContext & { tick(ms: number): void } {
  let now = start;
  let n = 0;
  return { get nowMs() { return now; }, newId: () => `f-${++n}`, tick(ms) { now += ms; } } as CommandContext & { tick(ms: number): void };
}

/** Given facts (from commands), when a command, then these fact types (or a violation). */
function given(commands: SaCommand[]): { state: SaState; ctx: ReturnType<typeof context>; log: SaFact[] } {
  const ctx = context();
  let state = initialSaState;
  const log: SaFact[] = [];
  for (const c of commands) {
    const facts = decideSa(c, state, ctx);
    for (const f of facts) state = evolveSa(state, f);
    log.push(...facts);
    ctx.tick(1000);
  }
  return { state, ctx, log };
}
const usage = (packets: number, bytes = packets * 100, seqLo = packets) => ({ packets, bytes, seqHi: 0, seqLo });

describe('SA decider, given/when/then', () => {
  it('install → mature, with the time recorded as an input', () => {
    const { state, log } = given([{ type: 'InstallSa', params: PARAMS }]);
    expect(state.status).toBe('mature');
    expect(log.map((f) => f.type)).toEqual(['SaInstalled']);
    expect(log[0]!.meta.at).toBe('2023-11-14T22:13:20.000Z');
  });
  it('a larval SA must be completed with the SPI it reserved', () => {
    const { state, ctx } = given([{ type: 'CreateLarval', spi: 0x1001, protocol: 'esp', dst: '192.0.2.2' }]);
    expect(() => decideSa({ type: 'InstallSa', params: { ...PARAMS, spi: 0x2002 } }, state, ctx)).toThrow(SaRuleViolation);
    expect(decideSa({ type: 'InstallSa', params: PARAMS }, state, ctx).map((f) => f.type)).toEqual(['SaInstalled']);
  });
  it('soft expiry is recorded once; rekey goes mature → rekeying → dying; delete → dead', () => {
    const { state, log } = given([
      { type: 'InstallSa', params: PARAMS },
      { type: 'ExpireSoft', limit: 'time', usage: usage(10) },
      { type: 'ExpireSoft', limit: 'bytes', usage: usage(11) },
      { type: 'StartRekey', newSaId: 'sa-2', jitterMs: 1234 },
      { type: 'StartRekey', newSaId: 'sa-2', jitterMs: 1234 },
      { type: 'CompleteRekey', newSaId: 'sa-2', drainMs: 5000 },
      { type: 'DeleteSa', reason: 'rekeyed' },
    ]);
    expect(log.map((f) => f.type)).toEqual(['SaInstalled', 'SaSoftExpired', 'RekeyStarted', 'RekeyCompleted', 'SaDeleted']);
    expect(state).toMatchObject({ status: 'dead', deleted: { reason: 'rekeyed' }, replacedBy: { newSaId: 'sa-2', drainMs: 5000 } });
  });
  it('a burst of NIC SaDeleteReq and DELETEs deletes the SA exactly once', () => {
    const { log } = given([
      { type: 'InstallSa', params: PARAMS },
      { type: 'RequestDeleteByNic', nic: 'nic0' },
      { type: 'RequestDeleteByNic', nic: 'nic0' },
      { type: 'DeleteSa', reason: 'nicRequest' },
      { type: 'DeleteSa', reason: 'peer' },
      { type: 'RequestDeleteByNic', nic: 'nic0' },
      { type: 'ExpireHard', limit: 'time', usage: usage(0) },
    ]);
    expect(log.map((f) => f.type)).toEqual(['SaInstalled', 'SaDeleteRequestedByNic', 'SaDeleted']);
  });
  it('hard expiry deletes; usage checkpoints never go backwards and repeat nothing', () => {
    const { state, ctx, log } = given([
      { type: 'InstallSa', params: PARAMS },
      { type: 'CheckpointUsage', usage: usage(100) },
      { type: 'CheckpointUsage', usage: usage(100) },
    ]);
    expect(log.filter((f) => f.type === 'SaUsageCheckpointed')).toHaveLength(1);
    expect(() => decideSa({ type: 'CheckpointUsage', usage: usage(99) }, state, ctx)).toThrow(/never decrease/);
    const hard = decideSa({ type: 'ExpireHard', limit: 'packets', usage: usage(200) }, state, ctx);
    expect(hard.map((f) => f.type)).toEqual(['SaHardExpired', 'SaDeleted']);
    expect(hard.reduce(evolveSa, state)).toMatchObject({ status: 'dead', deleted: { reason: 'hardExpired' }, hardExpired: { limit: 'packets' } });
  });
  it('violations name the command, the state and the rule', () => {
    const { state, ctx } = given([]);
    expect(() => decideSa({ type: 'DeleteSa', reason: 'operator' }, state, ctx)).toThrow('DeleteSa is not allowed while the SA is none: there is no SA to delete');
    const inbound = given([{ type: 'InstallSa', params: { ...PARAMS, direction: 'inbound' } }]);
    expect(() => decideSa({ type: 'ExhaustSequence' }, inbound.state, inbound.ctx)).toThrow(/only an outbound SA/);
    const offloaded = given([{ type: 'InstallSa', params: PARAMS }, { type: 'RecordOffload', nic: 'nic0', handle: 7 }]);
    expect(() => decideSa({ type: 'RecordOffload', nic: 'nic1', handle: 8 }, offloaded.state, offloaded.ctx)).toThrow(/already offloaded to nic0/);
  });
});

const arbCommand: fc.Arbitrary<SaCommand> = fc.oneof(
  fc.record({ type: fc.constant('CreateLarval' as const), spi: fc.constantFrom(0x1001, 0x2002), protocol: fc.constant('esp' as const), dst: fc.constant('192.0.2.2') }),
  fc.constant({ type: 'InstallSa' as const, params: PARAMS }),
  fc.integer({ min: 0, max: 1000 }).map((p) => ({ type: 'CheckpointUsage' as const, usage: usage(p) })),
  fc.integer({ min: 0, max: 1000 }).map((p) => ({ type: 'ExpireSoft' as const, limit: 'packets' as const, usage: usage(p) })),
  fc.constantFrom('sa-2', 'sa-3').map((newSaId) => ({ type: 'StartRekey' as const, newSaId, jitterMs: 10 })),
  fc.constantFrom('sa-2', 'sa-3').map((newSaId) => ({ type: 'CompleteRekey' as const, newSaId, drainMs: 5000 })),
  fc.constant({ type: 'ExhaustSequence' as const }),
  fc.constant({ type: 'RecordOffload' as const, nic: 'nic0', handle: 1 }),
  fc.constant({ type: 'RejectOffload' as const, nic: 'nic0', reason: 'capacity' as const }),
  fc.constant({ type: 'RequestDeleteByNic' as const, nic: 'nic0' }),
  fc.integer({ min: 0, max: 1000 }).map((p) => ({ type: 'ExpireHard' as const, limit: 'time' as const, usage: usage(p) })),
  fc.constantFrom('operator' as const, 'peer' as const).map((reason) => ({ type: 'DeleteSa' as const, reason })),
);

/** Runs commands, skipping the ones the decider refuses (they must record nothing). */
function run(commands: SaCommand[]): { log: SaFact[]; states: SaState[] } {
  const ctx = context();
  let state = initialSaState;
  const log: SaFact[] = [];
  const states = [state];
  for (const c of commands) {
    let facts: SaFact[];
    try {
      facts = decideSa(c, state, ctx);
    } catch (e) {
      expect(e).toBeInstanceOf(SaRuleViolation);
      continue;
    }
    for (const f of facts) {
      state = evolveSa(state, f);
      log.push(f);
      states.push(state);
    }
    ctx.tick(1000);
  }
  return { log, states };
}

describe('SA fold laws (property)', () => {
  test.prop([fc.array(arbCommand, { maxLength: 60 }), fc.nat()])('folding a prefix then the rest equals folding all, at any split', (commands, split) => {
    const { log } = run(commands);
    const k = log.length === 0 ? 0 : split % (log.length + 1);
    const all = log.reduce(evolveSa, initialSaState);
    const prefix = log.slice(0, k).reduce(evolveSa, initialSaState);
    expect(log.slice(k).reduce(evolveSa, prefix)).toEqual(all);
    expect(all.version).toBe(log.length);
    // A log survives JSON (what every store does to it) and folds to the same state.
    expect((JSON.parse(JSON.stringify(log)) as SaFact[]).reduce(evolveSa, initialSaState)).toEqual(all);
  });

  test.prop([fc.array(arbCommand, { maxLength: 80 })])('dead is final, each SA is deleted at most once, and usage never decreases', (commands) => {
    const { log, states } = run(commands);
    expect(log.filter((f) => f.type === 'SaDeleted').length).toBeLessThanOrEqual(1);
    const deadAt = states.findIndex((s) => s.status === 'dead');
    if (deadAt >= 0) expect(states.slice(deadAt).every((s) => s.status === 'dead')).toBe(true);
    for (let i = 1; i < states.length; i++) {
      expect(states[i]!.usage.packets).toBeGreaterThanOrEqual(states[i - 1]!.usage.packets);
      expect(states[i]!.usage.bytes).toBeGreaterThanOrEqual(states[i - 1]!.usage.bytes);
    }
    // Every fact id is unique and times never go backwards.
    expect(new Set(log.map((f) => f.meta.id)).size).toBe(log.length);
    for (let i = 1; i < log.length; i++) expect(log[i]!.meta.at >= log[i - 1]!.meta.at).toBe(true);
  });
});
