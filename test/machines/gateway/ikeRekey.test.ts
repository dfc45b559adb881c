import { describe, expect, it } from 'vitest';
import { readLog } from '../../../adapters/eventStore/facts.js';
import { seqOf, twoGateways, udp } from '../../support/twoGateways.js';

const SEC = 1000;
const acquireReq = { acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } };

describe('IKE SA rekey moves every child to the new IKE SA (RFC 7296 §2.8)', () => {
  it('the IKE SA expires before its ESP SAs: it is rekeyed, the children are taken over, traffic never stops', async () => {
    const { a, b, send, tick } = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } }, ikeLifetimes: { softMs: 40 * SEC, hardMs: 60 * SEC } });
    const pair = await a.km.acquire(acquireReq, new AbortController().signal);
    const firstIke = a.gateway.state(pair.outboundSaId)!.ikeSaId!;
    expect(a.gateway.ikeState(firstIke)?.children.sort()).toEqual([pair.inboundSaId, pair.outboundSaId].sort());
    let n = 0;
    for (let t = 0; t < 1200; t++) {
      send(a, [udp('10.1.0.5', '10.2.0.7', ++n)]);
      send(b, [udp('10.2.0.7', '10.1.0.5', ++n)]);
      await tick(100);
    }
    for (let i = 0; i < 4; i++) await tick(100);
    expect(a.gateway.drops.total() + b.gateway.drops.total(), JSON.stringify([a.gateway.drops.global, b.gateway.drops.global].map((g) => Object.fromEntries(Object.entries(g).filter(([, v]) => v > 0))))).toBe(0);
    expect(b.delivered.map(seqOf)).toEqual(Array.from({ length: 1200 }, (_, i) => 2 * i + 1));
    // 120 s of IKE lifetime 40 s (+ ≤ 10 % jitter): at least two rekeys; the children were never rekeyed.
    const log = await readLog(a.store);
    const rekeyed = log.filter((l) => l.fact.type === 'IkeSaRekeyed');
    expect(rekeyed.length).toBeGreaterThanOrEqual(2);
    expect(log.filter((l) => l.fact.type === 'RekeyStarted')).toHaveLength(0);
    const first = log.filter((l) => l.streamName === `ike-${firstIke}`).map((l) => l.fact.type);
    expect(first.slice(-4)).toEqual(['IkeSaRekeyed', 'ChildSaMoved', 'ChildSaMoved', 'IkeSaDeleted']);
    expect(a.gateway.ikeState(firstIke)).toMatchObject({ status: 'dead', deleted: { reason: 'rekeyed' }, children: [] });
    // The children belong to the newest IKE SA, and their own logs say when they moved.
    const current = a.gateway.state(pair.outboundSaId)!.ikeSaId!;
    expect(current).not.toBe(firstIke);
    expect(a.gateway.ikeState(current)).toMatchObject({ status: 'established' });
    expect(a.gateway.ikeState(current)!.children.sort()).toEqual([pair.inboundSaId, pair.outboundSaId].sort());
    expect(log.filter((l) => l.streamName === `sa-${pair.outboundSaId}` && l.fact.type === 'SaMovedToIkeSa').length).toBe(rekeyed.length);
    // B's side recorded the same rekeys (it was the responder).
    const bLog = await readLog(b.store);
    expect(bLog.filter((l) => l.fact.type === 'IkeSaRekeyed').length).toBe(rekeyed.length);
  }, 60_000);

  it('deleting the IKE SA deletes its children (RFC 7296 §1.4.1)', async () => {
    const { a, tick } = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
    const pair = await a.km.acquire(acquireReq, new AbortController().signal);
    const ike = a.gateway.state(pair.outboundSaId)!.ikeSaId!;
    a.gateway.sendIke(ike, { type: 'ike.delete', reason: 'operator' });
    await tick(1);
    for (const id of [pair.outboundSaId, pair.inboundSaId]) expect(a.gateway.state(id)).toMatchObject({ status: 'dead', deleted: { reason: 'ikeSaDeleted' } });
    expect(a.gateway.sad.outboundFor('a-out')).toBeUndefined();
  });
});
