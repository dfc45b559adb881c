import { describe, expect, it } from 'vitest';
import { readLog } from '../../../adapters/eventStore/facts.js';
import { replayTo } from '../../../engine/projections/replay.js';
import { compareNonces, rekeyCollisionLoser } from '../../../machines/rekey/collision.js';
import { seqOf, twoGateways, udp } from '../../support/twoGateways.js';

const SEC = 1000;

describe('two gateways, one in-memory wire, manual keying (the IKE twin)', () => {
  it('no SA, no key manager asked: a PROTECT packet is a counted noSa drop; once keyed, traffic flows both ways', async () => {
    const { a, b, send, tick } = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
    a.miss = null;
    send(a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    expect(a.gateway.drops.global.noSa).toBe(1);
    const pair = await a.km.acquire({ acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
    expect(a.gateway.sad.outboundFor('a-out')?.id).toBe(pair.outboundSaId);
    send(a, [udp('10.1.0.5', '10.2.0.7', 2), udp('10.1.0.5', '10.2.0.7', 3)]);
    send(b, [udp('10.2.0.7', '10.1.0.5', 4)]);
    send(a, [udp('10.1.0.5', '10.3.0.1', 5)]); // no policy: SPD default DISCARD
    for (let i = 0; i < 3; i++) await tick(10);
    expect(b.delivered.map(seqOf)).toEqual([2, 3]);
    expect(a.delivered.map(seqOf)).toEqual([4]);
    expect(a.gateway.drops.global.discarded).toBe(1);
  });

  it('rekey under traffic: zero loss, in order, make-before-break visible in the log, and the log replays to the live state', async () => {
    const lifetimes = { soft: { timeMs: 60 * SEC }, hard: { timeMs: 90 * SEC } };
    const { a, b, send, tick } = twoGateways({ lifetimes, checkpointEveryPackets: 500 });
    const first = await a.km.acquire({ acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
    let n = 0;
    // 150 s of traffic both ways, 20 packets per 100 ms tick: two soft expiries and rekeys.
    for (let t = 0; t < 1500; t++) {
      const batchA = Array.from({ length: 10 }, () => udp('10.1.0.5', '10.2.0.7', ++n));
      const batchB = Array.from({ length: 10 }, () => udp('10.2.0.7', '10.1.0.5', ++n));
      send(a, batchA);
      send(b, batchB);
      await tick(100);
    }
    for (let i = 0; i < 4; i++) await tick(100);
    const sentAB = Array.from({ length: n }, (_, i) => i + 1).filter((i) => Math.floor((i - 1) / 10) % 2 === 0);
    const sentBA = Array.from({ length: n }, (_, i) => i + 1).filter((i) => Math.floor((i - 1) / 10) % 2 === 1);
    expect(a.gateway.drops.total(), JSON.stringify(a.gateway.drops.global)).toBe(0);
    expect(b.gateway.drops.total(), JSON.stringify(b.gateway.drops.global)).toBe(0);
    expect(b.delivered.map(seqOf)).toEqual(sentAB);
    expect(a.delivered.map(seqOf)).toEqual(sentBA);
    // At least two rekeys happened (soft at ~60 s + jitter, well before the 90 s hard limit).
    const rekeys = [...a.gateway.rekeys.history, ...b.gateway.rekeys.history].filter((r) => r.outcome === 'done');
    expect(rekeys.length).toBeGreaterThanOrEqual(2);
    // Make-before-break in A's log: the first outbound SA was replaced by one installed before RekeyCompleted.
    const log = await readLog(a.store);
    const at = (stream: string, type: string) => log.findIndex((l) => l.streamName === stream && l.fact.type === type);
    const completed = log.find((l) => l.streamName === `sa-${first.outboundSaId}` && l.fact.type === 'RekeyCompleted')!;
    const successor = (completed.fact.data as { newSaId: string }).newSaId;
    expect(at(`sa-${successor}`, 'SaInstalled')).toBeLessThan(at(`sa-${first.outboundSaId}`, 'RekeyCompleted'));
    const oldIn = log.filter((l) => l.streamName === `sa-${first.inboundSaId}`);
    expect(oldIn.map((l) => l.fact.type)).toContain('RekeyCompleted');
    const drained = oldIn.find((l) => l.fact.type === 'SaDeleted')!;
    const replaced = oldIn.find((l) => l.fact.type === 'RekeyCompleted')!;
    expect(Date.parse(drained.fact.meta.at) - Date.parse(replaced.fact.meta.at)).toBe(5 * SEC);
    expect(drained.fact.data).toEqual({ reason: 'rekeyed' });
    // Every SA deleted exactly once; replaying A's log equals A's live aggregates.
    const replayed = replayTo(log);
    for (const id of a.gateway.saIds()) expect(replayed.sas.get(id), id).toEqual(a.gateway.state(id));
    for (const [id, s] of replayed.sas) expect(log.filter((l) => l.streamName === `sa-${id}` && l.fact.type === 'SaDeleted').length).toBe(s.status === 'dead' ? 1 : 0);
  }, 60_000);

  it('ACQUIRE: 10 000 packets to an unkeyed destination raise one acquire; the held ones are delivered in order once the SA is up', async () => {
    const { a, b, send, tick } = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
    send(a, Array.from({ length: 10_000 }, (_, i) => udp('10.1.0.5', '10.2.0.7', i + 1)));
    for (let i = 0; i < 5; i++) await tick(10);
    const log = await readLog(a.store);
    expect(log.filter((l) => l.fact.type === 'AcquireRaised')).toHaveLength(1);
    expect(log.filter((l) => l.fact.type === 'AcquireSatisfied')).toHaveLength(1);
    // The default queue holds 64 (cf. XFRM_MAX_QUEUE_LEN); the rest are counted, not lost silently.
    expect(b.delivered.map(seqOf)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(a.gateway.drops.global.acquireLimited).toBe(10_000 - 64);
    expect(a.gateway.drops.total()).toBe(10_000 - 64);
    // The acquire was satisfied before the released packets were sealed: AcquireRaised → SaInstalled → AcquireSatisfied.
    const order = log.map((l) => l.fact.type).filter((t) => t.startsWith('Acquire') || t === 'SaInstalled');
    expect(order[0]).toBe('AcquireRaised');
    expect(order.at(-1)).toBe('AcquireSatisfied');
    // Later traffic goes straight through.
    send(a, [udp('10.1.0.5', '10.2.0.7', 20_000)]);
    for (let i = 0; i < 3; i++) await tick(10);
    expect(b.delivered.map(seqOf).at(-1)).toBe(20_000);
  });
});

describe('rekey collision (RFC 7296 §2.8.1)', () => {
  it('both peers rekey the same CHILD SA at once: the lowest nonce loses, one replacement survives, nothing is lost', async () => {
    const { a, b, send, tick } = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } }, seed: 11 });
    const pair = await a.km.acquire({ acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
    const bOut = b.gateway.sad.outboundFor('b-out')!.id;
    a.gateway.rekeys.request(pair.outboundSaId);
    b.gateway.rekeys.request(bOut);
    expect(a.gateway.rekeys.running(pair.outboundSaId) && b.gateway.rekeys.running(bOut)).toBe(true);
    const aWins = compareNonces(a.gateway.rekeys.nonceOf(pair.outboundSaId)!, b.gateway.rekeys.nonceOf(bOut)!) > 0;
    let n = 0;
    for (let t = 0; t < 100; t++) {
      send(a, [udp('10.1.0.5', '10.2.0.7', ++n)]);
      send(b, [udp('10.2.0.7', '10.1.0.5', ++n)]);
      await tick(100);
    }
    for (let i = 0; i < 4; i++) await tick(100);
    expect(a.gateway.drops.total() + b.gateway.drops.total()).toBe(0);
    expect(b.delivered).toHaveLength(100);
    const outcomes = (gw: typeof a.gateway) => gw.rekeys.history.map((h) => h.outcome);
    expect(outcomes(a.gateway)).toEqual([aWins ? 'done' : 'failed']);
    expect(outcomes(b.gateway)).toEqual([aWins ? 'failed' : 'done']);
    // One replacement pair per side, and the old SAs deleted exactly once as rekeyed.
    for (const s of [a, b]) {
      const live = s.gateway.saIds().filter((id) => s.gateway.state(id)?.status !== 'dead');
      expect(live, s.gateway.name).toHaveLength(2);
    }
    expect(a.gateway.state(pair.outboundSaId)).toMatchObject({ status: 'dead', deleted: { reason: 'rekeyed' } });
    expect(a.gateway.state(pair.inboundSaId)).toMatchObject({ status: 'dead', deleted: { reason: 'rekeyed' } });
  });

  it('compares nonces as unsigned octet strings; the lowest of the four loses', () => {
    expect(compareNonces(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(-1);
    expect(compareNonces(Uint8Array.of(0xff), Uint8Array.of(0x01, 0))).toBe(1);
    expect(compareNonces(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(-1);
    const x = (b: number) => Uint8Array.of(b);
    expect(rekeyCollisionLoser({ ni: x(9), nr: x(2) }, { ni: x(5), nr: x(7) })).toBe('first');
    expect(rekeyCollisionLoser({ ni: x(9), nr: x(8) }, { ni: x(5), nr: x(7) })).toBe('second');
  });
});

describe('installing an SA', () => {
  it('a second install under the same id is refused and leaves the first SA alone', async () => {
    const { a } = twoGateways({ lifetimes: { soft: {}, hard: {} } });
    const pair = await a.km.acquire({ acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
    const state = a.gateway.state(pair.outboundSaId)!;
    const { keyRef: _k, keyFingerprint: _f, ...params } = state.params!;
    await expect(a.gateway.installSa({ id: pair.outboundSaId, params, keys: { encKey: new Uint8Array(20) } })).rejects.toThrow(/already has an actor/);
    expect(a.gateway.state(pair.outboundSaId)).toEqual(state);
    expect(a.gateway.sad.outboundFor('a-out')?.id).toBe(pair.outboundSaId);
  });
});
