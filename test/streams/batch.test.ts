/**
 * The pipelines' batch operators against the packet-by-packet functions, on two identical
 * gateway pairs (same seed, same keys): the same datagrams out, the same packets delivered,
 * the same drops, the same SA usage.
 */
import { firstValueFrom, lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../engine/bytes.js';
import { inbound, outbound, processInbound, processOutbound } from '../../streams/pipelines.js';
import { twoGateways, udp, type Side } from '../support/twoGateways.js';

const SEC = 1000;
const acquireReq = { acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } };

async function keyedPair() {
  const h = twoGateways({ seed: 11, lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
  await h.a.km.acquire(acquireReq, new AbortController().signal);
  return h;
}

const usage = (s: Side) => s.gateway.saIds().map((id) => [id, s.gateway.state(id)?.params?.direction, s.gateway.sad.get(id)?.sa?.usage]);
const drops = (s: Side) => Object.entries(s.gateway.drops.global).filter(([, n]) => n > 0);

describe('batch operators = packet by packet', () => {
  it('outbound: one batch through the operator gives the datagrams processOutbound gives one by one', async () => {
    const one = await keyedPair();
    const batched = await keyedPair();
    const packets = Array.from({ length: 24 }, (_, n) => udp('10.1.0.5', '10.2.0.7', n, 60 + n * 50));
    packets.splice(5, 0, udp('10.9.0.5', '10.2.0.7', 99)); // no policy: discarded, in its place
    const expected: Uint8Array[] = [];
    for (const p of packets) processOutbound(one.a.gateway, p, expected);
    const got = await firstValueFrom(of(packets).pipe(outbound(batched.a.gateway))); // released$ never completes: one batch in, one out
    expect(got.length).toBe(24);
    expect(got.map(toHex)).toEqual(expected.map(toHex));
    expect(drops(batched.a)).toEqual(drops(one.a));
    expect(usage(batched.a)).toEqual(usage(one.a));
  });

  it('inbound: a batch with duplicates, a tampered packet, garbage and clear traffic gives what processInbound gives in order', async () => {
    const one = await keyedPair();
    const batched = await keyedPair();
    const wire: Uint8Array[] = [];
    for (let n = 0; n < 12; n++) processOutbound(one.a.gateway, udp('10.1.0.5', '10.2.0.7', n), wire);
    const tampered = wire[7]!.slice();
    tampered[tampered.length - 3]! ^= 0x40;
    const received = [wire[0]!, wire[2]!, wire[1]!, wire[2]!, tampered, Uint8Array.of(0x45, 0, 0), wire[3]!, udp('10.1.0.5', '10.2.0.7', 77), wire[7]!, wire[11]!, wire[4]!, wire[11]!, wire[5]!];
    for (const d of received) processInbound(one.b.gateway, d.slice(), one.b.delivered);
    const got = (await lastValueFrom(of(received.map((d) => d.slice())).pipe(inbound(batched.b.gateway), toArray()))).flat();
    expect(one.b.delivered.length).toBe(8);
    expect(got.map(toHex)).toEqual(one.b.delivered.map(toHex));
    expect(drops(batched.b)).toEqual(drops(one.b));
    expect(drops(one.b).map(([r]) => r).sort()).toEqual(['authFailed', 'discarded', 'replayed', 'truncated']);
    expect(usage(batched.b)).toEqual(usage(one.b));
  });
});
