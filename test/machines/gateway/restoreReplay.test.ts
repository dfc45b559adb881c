import { describe, expect, it } from 'vitest';
import { processInbound, processOutbound } from '../../../streams/pipelines.js';
import { twoGateways, udp } from '../../support/twoGateways.js';

const SEC = 1000;

describe('a restart keeps the anti-replay window (RFC 4303 §3.4.3) and the outbound counter', () => {
  it('a packet received before the last checkpoint cannot be replayed after a restart', async () => {
    const h = twoGateways({ lifetimes: { soft: { timeMs: 3600 * SEC }, hard: { timeMs: 3900 * SEC } } });
    await h.a.km.acquire({ acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } }, new AbortController().signal);
    const wire: Uint8Array[] = [];
    for (let n = 1; n <= 5; n++) processOutbound(h.a.gateway, udp('10.1.0.5', '10.2.0.7', n), wire);
    const copies = wire.map((d) => d.slice());
    for (const d of wire) processInbound(h.b.gateway, d, h.b.delivered);
    expect(h.b.delivered).toHaveLength(5);
    await h.tick(60 * SEC); // the periodic checkpoint records the window
    await h.restart(h.b);
    const before = h.b.gateway.drops.total();
    processInbound(h.b.gateway, copies[2]!.slice(), h.b.delivered);
    expect(h.b.gateway.drops.total() - before).toBe(1);
    expect(h.b.gateway.drops.global.replayed).toBe(1);
    // A fresh packet still goes through: the window was restored, not closed.
    const more: Uint8Array[] = [];
    processOutbound(h.a.gateway, udp('10.1.0.5', '10.2.0.7', 6), more);
    processInbound(h.b.gateway, more[0]!, h.b.delivered);
    expect(h.b.delivered).toHaveLength(6);
  });
});
