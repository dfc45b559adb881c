/**
 * The control plane's invariants over random interleavings of packets, timer firings, peer
 * rekeys, DELETEs, NIC SaDeleteReq and restarts (issue 5, "Must show"):
 *  (a) no packet is ever encrypted with a dead or half-installed SA,
 *  (b) every packet that reaches the inbound side is delivered or dropped with a counted reason,
 *  (c) rebuilding every aggregate from the log at any point equals the live state,
 *  (d) each SA is deleted exactly once.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { readLog } from '../../../adapters/eventStore/facts.js';
import { replayTo } from '../../../engine/projections/replay.js';
import { emulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { twoGateways, udp, type Side } from '../../support/twoGateways.js';

const SEC = 1000;

type Op =
  | { kind: 'packets'; from: 'a' | 'b'; count: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'acquire'; from: 'a' | 'b' }
  | { kind: 'peerRekey'; by: 'a' | 'b' }
  | { kind: 'delete'; on: 'a' | 'b'; pick: number }
  | { kind: 'nicDeleteReq'; on: 'a' | 'b'; pick: number; flagged: number }
  | { kind: 'restart'; who: 'a' | 'b' }
  | { kind: 'checkReplay' };

const side = fc.constantFrom('a' as const, 'b' as const);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('packets' as const), from: side, count: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.oneof(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1 * SEC, max: 20 * SEC })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('acquire' as const), from: side }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('peerRekey' as const), by: side }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), on: side, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nicDeleteReq' as const), on: side, pick: fc.nat(), flagged: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), who: side }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkReplay' as const) }) },
);

async function replayEqualsLive(s: Side): Promise<void> {
  const replayed = replayTo(await readLog(s.store));
  for (const id of s.gateway.saIds()) expect(replayed.sas.get(id), `${s.gateway.name} ${id}`).toEqual(s.gateway.state(id));
  for (const id of s.gateway.ikeSaIds()) expect(replayed.ikeSas.get(id), `${s.gateway.name} ike ${id}`).toEqual(s.gateway.ikeState(id));
  for (const a of s.gateway.acquires.list()) expect(replayed.acquires.get(a.acquireId), `${s.gateway.name} acquire ${a.acquireId}`).toEqual(a.folded);
}

describe('control plane under random interleavings', () => {
  test.prop([fc.array(op, { minLength: 5, maxLength: 45 }), fc.integer({ min: 1, max: 2 ** 30 })], { numRuns: 40 })(
    '(a) sealed only under durably live SAs, (b) every datagram delivered or counted, (c) replay = live, (d) deleted exactly once',
    async (ops, seed) => {
      const h = twoGateways({ lifetimes: { soft: { timeMs: 30 * SEC, packets: 400 }, hard: { timeMs: 45 * SEC, packets: 600 } }, seed, checkpointEveryPackets: 50, latencyTicks: 2, ikeLifetimes: { softMs: 20 * SEC, hardMs: 35 * SEC }, nicA: emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 3 } }) });
      await h.a.gateway.offload!.ready();
      const sides = { a: h.a, b: h.b };
      let n = 0;
      const liveIds = (s: Side, direction?: 'inbound' | 'outbound') =>
        s.gateway.saIds().filter((id) => { const st = s.gateway.state(id); return st && st.status !== 'dead' && (!direction || st.params?.direction === direction); }).sort();
      for (const o of ops) {
        switch (o.kind) {
          case 'packets': {
            const [src, dst] = o.from === 'a' ? ['10.1.0.5', '10.2.0.7'] : ['10.2.0.7', '10.1.0.5'];
            h.send(sides[o.from], Array.from({ length: o.count }, () => udp(src, dst, ++n)));
            break;
          }
          case 'tick':
            await h.tick(o.ms);
            break;
          case 'acquire': {
            const s = sides[o.from];
            if (!s.gateway.sad.outboundFor(`${o.from}-out`)) {
              await s.km.acquire({ acquireId: `acq-${n}`, policyId: `${o.from}-out`, selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
            }
            break;
          }
          case 'peerRekey': {
            const out = liveIds(sides[o.by], 'outbound').find((id) => sides[o.by].gateway.state(id)?.status === 'mature');
            if (out) sides[o.by].gateway.rekeys.request(out);
            break;
          }
          case 'delete': {
            const ids = liveIds(sides[o.on]);
            if (ids.length) sides[o.on].gateway.deleteSa(ids[o.pick % ids.length]!, 'operator');
            break;
          }
          case 'nicDeleteReq': {
            const ids = liveIds(sides[o.on], 'inbound');
            // However many flagged packets arrive, the SA and its pair go exactly once.
            if (ids.length) for (let i = 0; i < o.flagged; i++) sides[o.on].gateway.nicDeleteRequest(ids[o.pick % ids.length]!, 'nic0');
            break;
          }
          case 'restart':
            await h.restart(sides[o.who]);
            break;
          case 'checkReplay':
            await h.settle();
            await replayEqualsLive(h.a);
            await replayEqualsLive(h.b);
            break;
        }
      }
      for (let i = 0; i < 3; i++) await h.tick(100);
      expect(h.violations).toEqual([]);
      for (const s of [h.a, h.b]) {
        await replayEqualsLive(s);
        const log = await readLog(s.store);
        const replayed = replayTo(log);
        for (const [id, st] of replayed.sas) {
          const deletes = log.filter((l) => l.streamName === `sa-${id}` && l.fact.type === 'SaDeleted').length;
          expect(deletes, `${s.gateway.name} sa-${id}`).toBe(st.status === 'dead' ? 1 : 0);
        }
      }
    },
    120_000,
  );
});
