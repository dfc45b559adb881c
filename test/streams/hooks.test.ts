import { describe, expect, it } from 'vitest';
import { IPPROTO } from '../../engine/packet/ipProtocol.js';
import type { TransportInfo } from '../../streams/pipelines.js';
import { seqOf, twoGateways, udp } from '../support/twoGateways.js';

const SEC = 1000;
const acquireReq = { acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } };

async function keyed() {
  const h = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
  const pair = await h.a.km.acquire(acquireReq, new AbortController().signal);
  return { ...h, pair };
}

describe('filter hooks at two layers of the inbound path', () => {
  it('the network layer sees ESP as received (still encrypted); the transport layer sees the detunneled packet with its SA', async () => {
    const { a, b, send, tick, pair } = await keyed();
    const network: number[] = [];
    const transport: Array<{ first: number; info: TransportInfo }> = [];
    b.hooks.network = [(d) => { network.push(d[9]!); return 'permit'; }];
    b.hooks.transport = [(p, info) => { transport.push({ first: p[0]!, info }); return 'permit'; }];
    send(a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    for (let i = 0; i < 3; i++) await tick(10);
    expect(network).toEqual([IPPROTO.ESP]); // the outer header's protocol: ESP, before decryption
    const bIn = b.gateway.sad.findInbound(b.gateway.state(b.gateway.saIds().find((id) => b.gateway.state(id)?.params?.direction === 'inbound')!)!.params!.spi, Uint8Array.of(192, 0, 2, 2), 'esp')!.id;
    expect(transport).toEqual([{ first: 0x45, info: { ipsecSecured: true, saId: bIn, tunnelMode: true } }]);
    expect(b.delivered.map(seqOf)).toEqual([1]);
    expect(pair.outboundSaId).toBeDefined();
  });

  it('a hook drops, modifies, or throws: drops are counted as filtered, modifications delivered, the stream goes on', async () => {
    const { a, b, send, tick } = await keyed();
    b.hooks.transport = [
      (p) => (seqOf(p) === 2 ? 'drop' : 'permit'),
      (p) => { if (seqOf(p) === 3) throw new Error('a buggy hook'); return 'permit'; },
      (p) => { if (seqOf(p) !== 4) return 'permit'; const m = p.slice(); new DataView(m.buffer).setUint32(28, 40); return { modified: m }; },
    ];
    send(a, [1, 2, 3, 4, 5].map((n) => udp('10.1.0.5', '10.2.0.7', n)));
    for (let i = 0; i < 3; i++) await tick(10);
    expect(b.delivered.map(seqOf)).toEqual([1, 40, 5]);
    expect(b.gateway.drops.global.filtered).toBe(2);
  });

  it('clear traffic no policy lets through never reaches a transport hook', async () => {
    const { a, b, tick } = await keyed();
    const seen: TransportInfo[] = [];
    b.hooks.transport = [(_, info) => { seen.push(info); return 'permit'; }];
    // A plain packet straight onto the wire: SPD-I has no BYPASS for it (RFC 4301 §5.2).
    const { processInbound } = await import('../../streams/pipelines.js');
    processInbound(b.gateway, udp('10.1.0.5', '10.2.0.7', 9), b.delivered, b.hooks);
    await tick(1);
    expect(seen).toEqual([]);
    expect(Object.entries(b.gateway.drops.global).filter(([, v]) => v > 0)).toEqual([['discarded', 1]]);
    expect(a.gateway.drops.total()).toBe(0);
  });
});
