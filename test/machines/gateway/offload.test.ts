import { describe, expect, it } from 'vitest';
import { readLog } from '../../../adapters/eventStore/facts.js';
import { emulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { seqOf, twoGateways, udp } from '../../support/twoGateways.js';

const SEC = 1000;
const lifetimes = { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } };
const acquireReq = { acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } };

async function offloadedPair() {
  const nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 4 } });
  const h = twoGateways({ lifetimes, nicA: nic });
  await h.a.gateway.offload!.ready();
  const pair = await h.a.km.acquire(acquireReq, new AbortController().signal);
  for (let i = 0; i < 3; i++) await h.tick(1);
  return { ...h, nic, pair };
}

describe('a gateway with an offload NIC', () => {
  it('offloads both SAs of a pair: the NIC seals and opens, the stack checks replay, traffic flows both ways', async () => {
    const { a, b, send, tick, nic, pair } = await offloadedPair();
    expect(a.gateway.state(pair.outboundSaId)?.offload).toMatchObject({ nic: 'nic0' });
    expect(a.gateway.state(pair.inboundSaId)?.offload).toMatchObject({ nic: 'nic0' });
    send(a, [1, 2, 3].map((i) => udp('10.1.0.5', '10.2.0.7', i)));
    send(b, [4, 5].map((i) => udp('10.2.0.7', '10.1.0.5', i)));
    for (let i = 0; i < 4; i++) await tick(10);
    expect(b.delivered.map(seqOf)).toEqual([1, 2, 3]);
    expect(a.delivered.map(seqOf)).toEqual([4, 5]);
    expect(nic.counters).toMatchObject({ saAdded: 2, rxCryptoDone: 2 });
    // The stack still rejects a replay the NIC happily decrypted.
    const wire: Uint8Array[] = [];
    const { processInbound, processOutbound } = await import('../../../streams/pipelines.js');
    processOutbound(b.gateway, udp('10.2.0.7', '10.1.0.5', 6), wire);
    processInbound(a.gateway, wire[0]!.slice(), a.delivered);
    processInbound(a.gateway, wire[0]!.slice(), a.delivered);
    expect(a.delivered.map(seqOf)).toEqual([4, 5, 6]);
    expect(a.gateway.drops.forSa(pair.inboundSaId).replayed).toBe(1);
  });

  it('SaDeleteReq: the flagged packet is still accepted; the SA and its pair are deleted exactly once each; the NIC removes nothing itself', async () => {
    const { a, b, send, tick, nic, pair } = await offloadedPair();
    const handle = a.gateway.state(pair.inboundSaId)!.offload!.handle;
    nic.faults.requestDeleteOnNext(handle);
    send(b, [1, 2, 3].map((i) => udp('10.2.0.7', '10.1.0.5', i)));
    for (let i = 0; i < 4; i++) await tick(10);
    // The first packet carried the flag; it and the two behind it were CryptoDone while the
    // delete was being recorded: all accepted.
    expect(a.delivered.map(seqOf)).toEqual([1, 2, 3]);
    // Once deleted (facts durable, DELETE_SA done), the SA is gone for what follows.
    send(b, [4].map((i) => udp('10.2.0.7', '10.1.0.5', i)));
    for (let i = 0; i < 4; i++) await tick(10);
    expect(a.delivered.map(seqOf)).toEqual([1, 2, 3]);
    expect(a.gateway.drops.global.unknownSpi).toBe(1);
    const log = await readLog(a.store);
    const facts = (id: string) => log.filter((l) => l.streamName === `sa-${id}`).map((l) => l.fact.type);
    expect(facts(pair.inboundSaId).filter((t) => t === 'SaDeleteRequestedByNic')).toHaveLength(1);
    for (const id of [pair.inboundSaId, pair.outboundSaId]) {
      expect(facts(id).filter((t) => t === 'SaDeleted')).toHaveLength(1);
      expect(a.gateway.state(id)?.deleted?.reason).toBe('nicRequest');
    }
    // DELETE_SA came from the stack, after the facts: both handles freed.
    expect(nic.saCount).toBe(0);
    expect(nic.counters.saDeleted).toBe(2);
    expect(log.filter((l) => l.fact.type === 'NicSaRemoved')).toHaveLength(2);
  });

  it('FIPS mode: nothing is offloaded, reason fips, and traffic flows in software', async () => {
    const nic = emulatedNic({ name: 'nic0' });
    const { a, b, send, tick } = twoGateways({ lifetimes, nicA: nic, offloadA: { fipsMode: true } });
    await a.gateway.offload!.ready();
    const pair = await a.km.acquire(acquireReq, new AbortController().signal);
    for (let i = 0; i < 3; i++) await tick(1);
    expect(a.gateway.state(pair.outboundSaId)).toMatchObject({ offloadRejected: { nic: 'nic0', reason: 'fips' } });
    expect(a.gateway.state(pair.outboundSaId)?.offload).toBeUndefined();
    send(a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    for (let i = 0; i < 3; i++) await tick(10);
    expect(b.delivered.map(seqOf)).toEqual([1]);
    expect(nic.counters.saAdded).toBe(0);
  });

  it('a NIC that loses an SA: the packet is a counted offloadError, later ones go in software with no sequence number reused', async () => {
    const { a, b, send, tick, nic, pair } = await offloadedPair();
    send(a, [1, 2].map((i) => udp('10.1.0.5', '10.2.0.7', i)));
    for (let i = 0; i < 3; i++) await tick(10);
    nic.faults.loseSa(a.gateway.state(pair.outboundSaId)!.offload!.handle);
    send(a, [3, 4, 5].map((i) => udp('10.1.0.5', '10.2.0.7', i)));
    for (let i = 0; i < 3; i++) await tick(10);
    expect(a.gateway.drops.global.offloadError).toBe(1);
    expect(b.delivered.map(seqOf)).toEqual([1, 2, 4, 5]);
    expect(b.gateway.drops.total()).toBe(0); // 4 and 5 were not replays: the software counter went on from the NIC's
  });
});

describe('switching an outbound SA to the NIC after it sent in software', () => {
  it('the NIC continues after the software counter: no sequence number is used twice', async () => {
    const nic = emulatedNic({ name: 'nic0' });
    const { a, b, send, tick } = twoGateways({ lifetimes, nicA: nic });
    await a.gateway.offload!.ready();
    // No SA yet: these three wait for the ACQUIRE and go out in software while ADD_SA runs.
    send(a, [1, 2, 3].map((i) => udp('10.1.0.5', '10.2.0.7', i)));
    for (let i = 0; i < 5; i++) await tick(10);
    send(a, [4, 5, 6].map((i) => udp('10.1.0.5', '10.2.0.7', i)));
    for (let i = 0; i < 4; i++) await tick(10);
    expect(nic.counters.txPackets).toBeGreaterThan(0);
    expect(b.delivered.map(seqOf)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.gateway.drops.total()).toBe(0);
  });
});
