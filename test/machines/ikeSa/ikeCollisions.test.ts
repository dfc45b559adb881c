/**
 * IKEv2 exchanges that cross (issue 7's collision scenarios, after strongSwan issues 1458, 1896
 * and 2477): both peers rekey the same CHILD SA at once (RFC 7296 §2.8.1), a DELETE crosses a
 * rekey, and a lost CREATE_CHILD_SA response is retransmitted. Each ends with exactly one live
 * pair on each side, matching SPIs, traffic both ways, and the facts that say what happened.
 */
import { describe, expect, it } from 'vitest';
import { IKE_EXCHANGE } from '../../../engine/ike/constants.js';
import { ikePair, seqOf, udp } from '../../support/ikePair.js';

type Lab = ReturnType<typeof ikePair>;
type Side = Lab['a'];

const exchanges = async (lab: Lab, s: Side) =>
  (await lab.facts(s, 'ike-')).filter((f) => f.fact.type === 'IkeExchangeCompleted').map((f) => {
    const d = f.fact.data as { exchange: string; outcome: string; requestBy: string };
    return `${d.exchange}:${d.requestBy}:${d.outcome}`;
  });
const deletions = async (lab: Lab, s: Side) => (await lab.facts(s, 'sa-')).filter((f) => f.fact.type === 'SaDeleted').map((f) => (f.fact.data as { reason: string }).reason);
const isResponse = (bytes: Uint8Array) => (bytes[19]! & 0x20) !== 0;
const mature = (s: Side) => s.gateway.saIds().filter((id) => s.gateway.state(id)?.status === 'mature');
const outboundOf = (s: Side) => mature(s).find((id) => s.gateway.state(id)?.params?.direction === 'outbound')!;

async function up(lab: Lab): Promise<void> {
  lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
  await lab.run(1_000);
  expect(lab.b.delivered.map(seqOf)).toEqual([1]);
}

/** Exactly one live pair each side, the SPIs matching across, and traffic both ways on it. */
async function onePairCarrying(lab: Lab, seq: number): Promise<void> {
  for (const s of [lab.a, lab.b]) {
    expect(lab.liveSas(s).map((id) => s.gateway.state(id)!.status)).toEqual(['mature', 'mature']);
  }
  const spi = (s: Side, direction: string) => lab.liveSas(s).map((id) => s.gateway.state(id)!.params!).find((p) => p.direction === direction)!.spi;
  expect(spi(lab.a, 'outbound')).toBe(spi(lab.b, 'inbound'));
  expect(spi(lab.b, 'outbound')).toBe(spi(lab.a, 'inbound'));
  const [fromA, fromB] = [lab.b.delivered.length, lab.a.delivered.length];
  lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', seq)]);
  lab.send(lab.b, [udp('10.2.0.7', '10.1.0.5', seq + 1)]);
  await lab.run(200);
  expect(lab.b.delivered.slice(fromA).map(seqOf)).toEqual([seq]);
  expect(lab.a.delivered.slice(fromB).map(seqOf)).toEqual([seq + 1]);
}

describe('IKEv2 exchanges that cross', () => {
  it('both peers rekey the same CHILD SA at once (RFC 7296 §2.8.1): the pair made with the lowest nonce is deleted by its maker, one pair stays', async () => {
    const losers: string[] = [];
    for (const seed of [3, 4, 5, 6, 7, 8]) {
      const lab = ikePair({ seed });
      await up(lab);
      lab.holdIke(() => true);
      lab.a.gateway.rekeys.request(outboundOf(lab.a));
      lab.b.gateway.rekeys.request(outboundOf(lab.b));
      for (let i = 0; i < 50 && lab.heldIke() < 2; i++) await lab.settle();
      expect(lab.heldIke()).toBe(2); // both CREATE_CHILD_SA requests are on the wire at once
      lab.releaseIke();
      await lab.run(6_000); // the responders' hold (2 s) and the old pairs' drain (2 s)
      const [exA, exB] = [await exchanges(lab, lab.a), await exchanges(lab, lab.b)];
      // Both exchanges completed on both sides.
      for (const ex of [exA, exB]) {
        expect(ex.filter((e) => e === 'CREATE_CHILD_SA:us:ok')).toHaveLength(1);
        expect(ex.filter((e) => e === 'CREATE_CHILD_SA:peer:ok')).toHaveLength(1);
      }
      // The redundant pair: deleted by its maker (rekeyCollision) and, told by DELETE, by the other (peer).
      const [delA, delB] = [await deletions(lab, lab.a), await deletions(lab, lab.b)];
      const loser = delA.includes('rekeyCollision') ? 'a' : 'b';
      losers.push(loser);
      const [mine, theirs] = loser === 'a' ? [delA, delB] : [delB, delA];
      expect(mine.filter((r) => r === 'rekeyCollision')).toHaveLength(2);
      expect(theirs.filter((r) => r === 'rekeyCollision')).toHaveLength(0);
      // The other side responded to that exchange: it holds the pair's inbound SA, and its outbound
      // SA only if it was cued before the DELETE came (a rekey responder waits, RFC 7296 §2.8).
      expect(theirs.filter((r) => r === 'peer').length).toBeGreaterThanOrEqual(1);
      expect(theirs.filter((r) => r === 'peer').length).toBeLessThanOrEqual(2);
      // The old pair was replaced on both sides (make-before-break, then the drain).
      expect(delA.filter((r) => r === 'rekeyed')).toHaveLength(2);
      expect(delB.filter((r) => r === 'rekeyed')).toHaveLength(2);
      await onePairCarrying(lab, 100);
      // Nothing was dropped on either side through the collision: no unknown SPI, no SA miss.
      for (const s of [lab.a, lab.b]) expect(Object.entries(s.gateway.drops.global).filter(([, n]) => n > 0)).toEqual([]);
    }
    // The seeds cover both outcomes: the rule, not a side, decides.
    expect(new Set(losers)).toEqual(new Set(['a', 'b']));
  });

  it('a DELETE crossing a rekey of the same CHILD SA: the rekey finds it gone, both sides drop it, the next packet makes one new pair', async () => {
    const lab = ikePair();
    await up(lab);
    lab.holdIke(() => true);
    const oldA = mature(lab.a);
    lab.a.gateway.rekeys.request(outboundOf(lab.a));
    for (const id of mature(lab.b)) lab.b.gateway.deleteSa(id, 'operator');
    for (let i = 0; i < 50 && lab.heldIke() < 2; i++) await lab.settle();
    expect(lab.heldIke()).toBe(2); // A's CREATE_CHILD_SA and B's INFORMATIONAL cross
    lab.releaseIke();
    await lab.run(5_000);
    expect(await exchanges(lab, lab.a)).toContain('CREATE_CHILD_SA:us:CHILD_SA_NOT_FOUND');
    expect(await exchanges(lab, lab.b)).toContain('CREATE_CHILD_SA:peer:CHILD_SA_NOT_FOUND');
    for (const id of oldA) expect(lab.a.gateway.state(id)?.deleted?.reason).toBe('peer');
    expect(lab.liveSas(lab.a)).toEqual([]);
    expect(lab.liveSas(lab.b)).toEqual([]);
    // No rekey retries on a dead SA; the next packet is an SA miss and negotiates afresh.
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 50)]);
    await lab.run(1_000);
    expect(lab.b.delivered.map(seqOf)).toEqual([1, 50]);
    await onePairCarrying(lab, 60);
    expect(lab.a.ike.list()).toHaveLength(1); // under the same IKE SA
  });

  it('a lost CREATE_CHILD_SA response: the initiator retransmits the same bytes, the responder answers from its cache, one new pair', async () => {
    const lab = ikePair();
    await up(lab);
    let lost = 0;
    lab.loseIke((from, bytes) => {
      if (from === 'b' && bytes[18] === IKE_EXCHANGE.CREATE_CHILD_SA && isResponse(bytes) && lost === 0) {
        lost++;
        return false;
      }
      return true;
    });
    const before = lab.ikeLog.length;
    lab.a.gateway.rekeys.request(outboundOf(lab.a));
    await lab.run(6_000);
    const requests = lab.ikeLog.slice(before).filter((m) => m.from === 'a' && m.bytes[18] === IKE_EXCHANGE.CREATE_CHILD_SA && !isResponse(m.bytes));
    expect(requests).toHaveLength(2);
    expect(Buffer.from(requests[0]!.bytes).equals(Buffer.from(requests[1]!.bytes))).toBe(true);
    expect(lab.b.ike.counters.drops.retransmittedRequest).toBe(1);
    expect((await exchanges(lab, lab.b)).filter((e) => e === 'CREATE_CHILD_SA:peer:ok')).toHaveLength(1);
    expect((await exchanges(lab, lab.a)).filter((e) => e === 'CREATE_CHILD_SA:us:ok')).toHaveLength(1);
    await onePairCarrying(lab, 200);
  });
});
