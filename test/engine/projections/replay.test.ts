import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { decidePolicy, evolvePolicy, initialPolicyState, type PolicyCommand } from '../../../engine/aggregates/policy.js';
import { decideSa, evolveSa, initialSaState, type SaCommand, type SaState } from '../../../engine/aggregates/sa.js';
import type { CommandContext, Fact } from '../../../engine/events/fact.js';
import type { SaParams } from '../../../engine/events/saFacts.js';
import { applyFact, emptyGatewayState, replayTo, restoreSnapshot, takeSnapshot, type LoggedFact } from '../../../engine/projections/replay.js';
import { saTimeline } from '../../../engine/projections/timeline.js';

const PARAMS: SaParams = {
  spi: 0x1001, protocol: 'esp', direction: 'outbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128, lifetimes: { soft: { timeMs: 60_000 }, hard: { timeMs: 90_000 } }, keyRef: 'k', keyFingerprint: 'sha256:00',
};

/** A gateway's log from random commands against several SAs and policies, with deciders as the writer. */
function randomLog(ops: { sa: number; cmd: number; packets: number }[]): { log: LoggedFact[]; live: Map<string, SaState> } {
  let t = Date.parse('2026-11-22T00:00:00Z');
  let id = 0;
  const ctx: CommandContext = { get nowMs() { return t; }, newId: () => `f${++id}` } as CommandContext;
  const live = new Map<string, SaState>();
  let policy = initialPolicyState;
  const log: LoggedFact[] = [];
  const append = (streamName: string, facts: Fact[]) => facts.forEach((fact) => log.push({ streamName, position: BigInt(log.length + 1), fact }));
  append('policy-p1', decidePolicy({ type: 'AddPolicy', policy: { id: 'p1' }, source: { via: 'file' } } as PolicyCommand, policy, ctx).map((f) => ((policy = evolvePolicy(policy, f)), f)));
  for (const op of ops) {
    t += 1000;
    const saId = `s${op.sa}`;
    const state = live.get(saId) ?? initialSaState;
    const usage = { packets: state.usage.packets + op.packets, bytes: state.usage.bytes + op.packets * 100, seqHi: 0, seqLo: state.usage.seqLo + op.packets };
    const commands: SaCommand[] = [
      { type: 'InstallSa', params: { ...PARAMS, spi: 0x1000 + op.sa } },
      { type: 'CheckpointUsage', usage },
      { type: 'ExpireSoft', limit: 'time', usage },
      { type: 'StartRekey', newSaId: `s${op.sa + 10}`, jitterMs: 500 },
      { type: 'CompleteRekey', newSaId: `s${op.sa + 10}`, drainMs: 5000 },
      { type: 'DeleteSa', reason: 'rekeyed' },
      { type: 'ExpireHard', limit: 'time', usage },
      { type: 'RequestDeleteByNic', nic: 'nic0' },
    ];
    try {
      const facts = decideSa(commands[op.cmd % commands.length]!, state, ctx);
      live.set(saId, facts.reduce(evolveSa, state));
      append(`sa-${saId}`, facts);
    } catch {
      /* refused: nothing recorded */
    }
  }
  return { log, live };
}

const arbOps = fc.array(fc.record({ sa: fc.integer({ min: 0, max: 5 }), cmd: fc.nat(), packets: fc.integer({ min: 0, max: 50 }) }), { maxLength: 120 });

describe('replay and projections', () => {
  test.prop([arbOps])('replaying the whole log equals the live aggregates', (ops) => {
    const { log, live } = randomLog(ops);
    const replayed = replayTo(log);
    expect(Object.fromEntries(replayed.sas)).toEqual(Object.fromEntries(live));
    expect(replayed.position).toBe(BigInt(log.length));
  });

  test.prop([arbOps, fc.nat(), fc.nat()])('replay to a position equals folding the prefix; a snapshot never changes the result', (ops, a, b) => {
    const { log } = randomLog(ops);
    const cut = log.length ? BigInt(1 + (a % log.length)) : 0n;
    const snapAt = log.length ? BigInt(b % (log.length + 1)) : 0n;
    const direct = replayTo(log, { position: cut });
    const prefix = emptyGatewayState();
    for (const f of log.filter((l) => l.position <= cut)) applyFact(prefix, f);
    expect(Object.fromEntries(direct.sas)).toEqual(Object.fromEntries(prefix.sas));
    // Through a JSON snapshot taken at another point, then the rest.
    const snapshot = JSON.parse(JSON.stringify(takeSnapshot(replayTo(log, { position: snapAt }))));
    const viaSnapshot = replayTo(log, undefined, restoreSnapshot(snapshot));
    const full = replayTo(log);
    expect(Object.fromEntries(viaSnapshot.sas)).toEqual(Object.fromEntries(full.sas));
    expect(Object.fromEntries(viaSnapshot.policies)).toEqual(Object.fromEntries(full.policies));
    expect(viaSnapshot.position).toBe(full.position);
  });

  it('replay to a time stops after the last fact at that time', () => {
    const { log } = randomLog([{ sa: 1, cmd: 0, packets: 0 }, { sa: 1, cmd: 1, packets: 5 }, { sa: 1, cmd: 5, packets: 0 }]);
    const at = log[1]!.fact.meta.at;
    const then = replayTo(log, { time: at });
    expect(then.sas.get('s1')?.status).toBe('mature');
    expect(replayTo(log).sas.get('s1')?.status).toBe('dead');
  });

  it('the timeline says why an SA died', () => {
    const { log } = randomLog([
      { sa: 2, cmd: 0, packets: 0 },
      { sa: 2, cmd: 2, packets: 30 },
      { sa: 2, cmd: 3, packets: 0 },
      { sa: 2, cmd: 4, packets: 0 },
      { sa: 2, cmd: 5, packets: 0 },
    ]);
    const lines = saTimeline(log, 's2').map((e) => e.summary);
    expect(lines).toEqual([
      'installed: outbound ESP SPI 0x00001002, tunnel mode 192.0.2.1 → 192.0.2.2',
      'soft lifetime reached (time) after 30 packets: rekey due',
      'rekey started: successor s12 (jitter 0.5 s)',
      'replaced by s12; it still receives for 5.0 s (make-before-break)',
      'deleted: replaced by its successor after the drain period',
    ]);
  });
});
