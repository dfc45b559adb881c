/**
 * IKEv2 between two of our gateways in one process: on demand (first packet → ACQUIRE → IKE →
 * traffic), the refusals (wrong PSK, no proposal, another DH group), lost messages, CHILD and IKE
 * SA rekeys by lifetime, DELETE, cookies. Every outcome is checked in the gateways' data paths
 * and in the facts each side logged.
 */
import { describe, expect, it } from 'vitest';
import { ikePair, udp, seqOf, MODP2048_CBC, P256_CBC, X25519_GCM, CBC256_SHA256, GCM128 } from '../../support/ikePair.js';

const exchanges = async (lab: ReturnType<typeof ikePair>, s: ReturnType<typeof ikePair>['a']) =>
  (await lab.facts(s, 'ike-')).filter((f) => f.fact.type === 'IkeExchangeCompleted').map((f) => {
    const d = f.fact.data as { exchange: string; outcome: string; requestBy: string };
    return `${d.exchange}:${d.requestBy}:${d.outcome}`;
  });

async function upAndCarrying(lab: ReturnType<typeof ikePair>) {
  lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
  await lab.run(1_000);
  // The held packet went out once the SA was up; then both directions carry traffic.
  expect(lab.b.delivered.map(seqOf)).toEqual([1]);
  lab.send(lab.b, [udp('10.2.0.7', '10.1.0.5', 2)]);
  lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 3)]);
  expect(lab.a.delivered.map(seqOf)).toEqual([2]);
  expect(lab.b.delivered.map(seqOf)).toEqual([1, 3]);
}

describe('IKEv2 between two gateways', () => {
  it('brings a tunnel up on the first packet: ACQUIRE → IKE_SA_INIT → IKE_AUTH → one pair each side → traffic', async () => {
    const lab = ikePair();
    await upAndCarrying(lab);
    expect(lab.liveSas(lab.a)).toHaveLength(2);
    expect(lab.liveSas(lab.b)).toHaveLength(2);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:ok']);
    expect(await exchanges(lab, lab.b)).toEqual(['IKE_SA_INIT:peer:ok', 'IKE_AUTH:peer:ok']);
    const types = (await lab.facts(lab.a, 'ike-')).map((f) => f.fact.type);
    // IKE_AUTH's fact is written when the exchange ends: after its CHILD SA is installed.
    expect(types).toEqual(['IkeSaInitiated', 'IkeExchangeCompleted', 'IkeSaEstablished', 'ChildSaAdded', 'ChildSaAdded', 'IkeExchangeCompleted']);
    // Each side's outbound SPI is the other's inbound SPI, with the same suite.
    const spis = (s: typeof lab.a, dir: string) => s.gateway.saIds().map((id) => s.gateway.state(id)!.params!).filter((p) => p.direction === dir).map((p) => p.spi);
    expect(spis(lab.a, 'outbound')).toEqual(spis(lab.b, 'inbound'));
    expect(spis(lab.b, 'outbound')).toEqual(spis(lab.a, 'inbound'));
    expect(lab.a.ike.list()).toHaveLength(1);
    expect(lab.b.ike.list()[0]!.role).toBe('responder');
  });

  it.each([
    ['AES-GCM + curve25519', [X25519_GCM], [GCM128]],
    ['AES-CBC/HMAC-SHA-256 + P-256', [P256_CBC], [CBC256_SHA256]],
    ['AES-CBC + MODP-2048', [MODP2048_CBC], [CBC256_SHA256]],
  ])('negotiates %s', async (_name, suites, esp) => {
    const lab = ikePair({ suitesA: suites, suitesB: suites, espA: esp, espB: esp });
    await upAndCarrying(lab);
  });

  it('a wrong PSK ends with AUTHENTICATION_FAILED on both sides, a fact saying so, and no SA', async () => {
    const lab = ikePair({ pskB: 'not the same secret at all' });
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    await lab.run(1_000);
    expect(lab.b.delivered).toHaveLength(0);
    expect(lab.liveSas(lab.a)).toHaveLength(0);
    expect(lab.liveSas(lab.b)).toHaveLength(0);
    expect(await exchanges(lab, lab.b)).toEqual(['IKE_SA_INIT:peer:ok', 'IKE_AUTH:peer:AUTHENTICATION_FAILED']);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:AUTHENTICATION_FAILED']);
    const deleted = (await lab.facts(lab.b, 'ike-')).filter((f) => f.fact.type === 'IkeSaDeleted').map((f) => (f.fact.data as { reason: string }).reason);
    expect(deleted).toEqual(['AUTHENTICATION_FAILED']);
    const failed = (await lab.facts(lab.a, 'acquire-')).find((f) => f.fact.type === 'AcquireFailed');
    expect((failed?.fact.data as { reason: string }).reason).toMatch(/AUTHENTICATION_FAILED/);
  });

  it('IKE proposals the responder does not support get NO_PROPOSAL_CHOSEN', async () => {
    const lab = ikePair({ suitesA: [P256_CBC], suitesB: [X25519_GCM] });
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    await lab.run(1_000);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:NO_PROPOSAL_CHOSEN']);
    expect(lab.b.ike.counters.drops.noProposalChosen).toBe(1);
    expect(lab.b.gateway.ikeSaIds()).toHaveLength(0);
  });

  it('ESP proposals the responder does not support: the IKE SA stands, the CHILD SA is refused', async () => {
    const lab = ikePair({ espA: [CBC256_SHA256], espB: [GCM128] });
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    await lab.run(1_000);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:NO_PROPOSAL_CHOSEN']);
    expect(lab.liveSas(lab.a)).toHaveLength(0);
    expect(lab.a.gateway.ikeState(lab.a.ike.list()[0]!.ikeSaId)?.status).toBe('established');
  });

  it('INVALID_KE_PAYLOAD: the initiator retries with the group the responder wants', async () => {
    const lab = ikePair({ suitesA: [P256_CBC, { ...P256_CBC, dh: 31 }], suitesB: [{ ...P256_CBC, dh: 31 }] });
    await upAndCarrying(lab);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:INVALID_KE_PAYLOAD', 'IKE_SA_INIT:us:ok', 'IKE_AUTH:us:ok']);
  });

  it('cookies under load: the responder answers statelessly until the initiator returns the cookie', async () => {
    const lab = ikePair({ cookieThresholdB: 0 });
    await upAndCarrying(lab);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:COOKIE', 'IKE_SA_INIT:us:ok', 'IKE_AUTH:us:ok']);
    expect(lab.b.ike.counters.drops.cookieRequired).toBe(1);
  });

  it('a lost IKE_AUTH response: the initiator retransmits the same bytes, the responder answers from its cache, one pair', async () => {
    const lab = ikePair();
    let authResponses = 0;
    lab.loseIke((from, bytes) => !(from === 'b' && bytes[18] === 35 && (bytes[19]! & 0x20) !== 0 && authResponses++ === 0));
    await upAndCarrying(lab);
    const requests = lab.ikeLog.filter((m) => m.from === 'a' && m.bytes[18] === 35);
    expect(requests).toHaveLength(2);
    expect(Buffer.from(requests[0]!.bytes).equals(Buffer.from(requests[1]!.bytes))).toBe(true);
    expect(lab.liveSas(lab.b)).toHaveLength(2);
    expect(lab.b.ike.counters.drops.retransmittedRequest).toBe(1);
  });

  it('a peer that never answers: retransmissions, then the acquire fails with a timeout fact', async () => {
    const lab = ikePair();
    lab.loseIke((from) => from === 'a' ? false : true);
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    await lab.run(20_000, 250);
    expect(lab.ikeLog.filter((m) => m.from === 'a')).toHaveLength(5);
    expect(await exchanges(lab, lab.a)).toEqual(['IKE_SA_INIT:us:timeout']);
  });

  it('rekeys the CHILD SA by lifetime under traffic with zero loss, and deletes the old pair on both sides', async () => {
    const lab = ikePair({ lifetimes: { soft: { timeMs: 10_000 }, hard: { timeMs: 20_000 } } });
    await upAndCarrying(lab);
    let n = 10;
    for (let t = 0; t < 30; t++) {
      lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', n++)]);
      lab.send(lab.b, [udp('10.2.0.7', '10.1.0.5', n++)]);
      await lab.run(500);
    }
    const sentAtoB = Array.from({ length: 30 }, (_, i) => 10 + 2 * i);
    expect(lab.b.delivered.map(seqOf).slice(2)).toEqual(sentAtoB);
    expect(lab.a.delivered.map(seqOf).slice(1)).toEqual(sentAtoB.map((x) => x + 1));
    expect(lab.liveSas(lab.a)).toHaveLength(2);
    expect(lab.liveSas(lab.b)).toHaveLength(2);
    const ex = await exchanges(lab, lab.a);
    expect(ex.filter((e) => e.startsWith('CREATE_CHILD_SA')).length).toBeGreaterThanOrEqual(1);
    expect(ex.filter((e) => !e.endsWith(":ok")), JSON.stringify(ex)).toEqual([]);
  });

  it('rekeys the IKE SA by lifetime: children move to the new IKE SA, the old one is deleted, CHILD SAs rekey under the new one', async () => {
    const lab = ikePair({ ikeLifetimes: { softMs: 10_000, hardMs: 60_000 }, lifetimes: { soft: { timeMs: 20_000 }, hard: { timeMs: 40_000 } } });
    await upAndCarrying(lab);
    const oldIke = lab.a.ike.list()[0]!.ikeSaId;
    await lab.run(15_000, 500);
    const now = lab.a.ike.list();
    expect(now).toHaveLength(1);
    expect(now[0]!.ikeSaId).not.toBe(oldIke);
    expect(lab.b.ike.list()).toHaveLength(1);
    expect(lab.a.gateway.ikeState(oldIke)?.status).toBe('dead');
    const moved = (await lab.facts(lab.a, `ike-${oldIke}`)).filter((f) => f.fact.type === 'ChildSaMoved');
    expect(moved).toHaveLength(2);
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 50)]);
    expect(lab.b.delivered.map(seqOf)).toContain(50);
    // The CHILD SA's soft lifetime comes under the new IKE SA: its keys come from the new SK_d.
    await lab.run(10_000, 500);
    const newIke = now[0]!.ikeSaId;
    const childRekeys = (await lab.facts(lab.a, `ike-${newIke}`)).map((f) => f.fact.data as { exchange?: string; outcome?: string; detail?: string }).filter((d) => d.exchange === 'CREATE_CHILD_SA' && d.outcome === 'ok' && d.detail?.startsWith('rekeyed CHILD SA'));
    expect(childRekeys).toHaveLength(1);
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 51)]);
    lab.send(lab.b, [udp('10.2.0.7', '10.1.0.5', 52)]);
    expect(lab.b.delivered.map(seqOf)).toContain(51);
    expect(lab.a.delivered.map(seqOf)).toContain(52);
    expect(lab.liveSas(lab.a)).toHaveLength(2);
  });

  it('NAT-keepalives every 20 s to the peer on its NAT-T port while the IKE SA lives (RFC 3948 §4), none after it is deleted', async () => {
    const lab = ikePair();
    await upAndCarrying(lab);
    const t0 = lab.clock.now();
    await lab.run(65_000, 1_000);
    for (const side of ['a', 'b'] as const) {
      const sent = lab.keepalives[side];
      expect(sent).toHaveLength(3);
      expect(sent.map((k) => k.to)).toEqual(Array(3).fill({ address: side === 'a' ? '192.0.2.2' : '192.0.2.1', port: 4500 }));
      // 20 s apart, the first 20 s after the IKE SA came up (in the first second of the run).
      expect([sent[1]!.at - sent[0]!.at, sent[2]!.at - sent[1]!.at]).toEqual([20_000, 20_000]);
      expect(sent[0]!.at - t0).toBeGreaterThan(18_000);
      expect(sent[0]!.at - t0).toBeLessThanOrEqual(20_000);
    }
    await lab.a.ike.deleteIkeSa(lab.a.ike.list()[0]!.ikeSaId);
    await lab.run(60_000, 1_000);
    expect(lab.keepalives.a).toHaveLength(3);
    expect(lab.keepalives.b).toHaveLength(3);
    expect(lab.a.ike.counters.keepalivesSent).toBe(3);
  });

  it('DELETE: an SA deleted on one side is deleted on the other (reason peer)', async () => {
    const lab = ikePair();
    await upAndCarrying(lab);
    const inbound = lab.liveSas(lab.a).find((id) => lab.a.gateway.state(id)!.params!.direction === 'inbound')!;
    const outbound = lab.liveSas(lab.a).find((id) => lab.a.gateway.state(id)!.params!.direction === 'outbound')!;
    lab.a.gateway.deleteSa(outbound, 'operator');
    lab.a.gateway.deleteSa(inbound, 'operator');
    await lab.run(3_000);
    expect(lab.liveSas(lab.b)).toHaveLength(0);
    const reasons = (await lab.facts(lab.b, 'sa-')).filter((f) => f.fact.type === 'SaDeleted').map((f) => (f.fact.data as { reason: string }).reason);
    expect(reasons).toEqual(['peer', 'peer']);
    expect(await exchanges(lab, lab.b)).toContain('INFORMATIONAL:peer:ok');
  });

  it('deleting the IKE SA takes its CHILD SAs along on both sides', async () => {
    const lab = ikePair();
    await upAndCarrying(lab);
    await lab.a.ike.deleteIkeSa(lab.a.ike.list()[0]!.ikeSaId);
    await lab.run(3_000);
    expect(lab.liveSas(lab.a)).toHaveLength(0);
    expect(lab.liveSas(lab.b)).toHaveLength(0);
    expect(lab.b.ike.list()).toHaveLength(0);
  });
});
