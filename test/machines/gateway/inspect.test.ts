import { createWebSocketInspector, createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { emulatedNic } from '../../../adapters/nic/emulatedNic.js';
import { twoGateways, udp } from '../../support/twoGateways.js';

const freePort = () => new Promise<number>((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
const acquireReq = { acquireId: 'x', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.1.0.5', remoteAddress: '10.2.0.7', protocol: 17, localPort: 5000, remotePort: 6000 } };

describe('inspection: every actor accepts an inspect observer; the Stately inspector can watch them live', () => {
  it('SA, IKE SA, acquire, rekey and offload actors all report to one observer', async () => {
    const seen: InspectionEvent[] = [];
    const h = twoGateways({ lifetimes: { soft: { timeMs: 10_000 }, hard: { timeMs: 20_000 } }, nicA: emulatedNic({ name: 'nic0' }), inspect: (e) => seen.push(e) });
    await h.a.gateway.offload!.ready();
    h.send(h.a, [udp('10.1.0.5', '10.2.0.7', 1)]); // SA miss → acquire actor
    for (let i = 0; i < 5; i++) await h.tick(10);
    for (let i = 0; i < 12; i++) await h.tick(1_000); // soft expiry → rekey actor
    const machines = new Set(seen.filter((e) => e.type === '@xstate.actor').map((e) => (e.actorRef as unknown as { logic: { id?: string } }).logic.id));
    for (const id of ['sa', 'ikeSa', 'acquire', 'childRekey']) expect(machines, id).toContain(id);
    expect([...machines].some((id) => id?.startsWith('offload') || id === 'nic')).toBe(true);
    expect(seen.some((e) => e.type === '@xstate.snapshot')).toBe(true);
  });

  it('@statelyai/inspect over a real WebSocket: a receiver sees the gateway machines step', async () => {
    const port = await freePort();
    const server = createInspectorServer({ port, autoOpen: false });
    const url = `ws://127.0.0.1:${port}`;
    const received: StatelyInspectionEvent[] = [];
    const receiver = createWebSocketReceiver({ server: url });
    const sub = receiver.subscribe((e) => received.push(e));
    const inspector = createWebSocketInspector({ url });
    try {
      const h = twoGateways({ lifetimes: { soft: { timeMs: 3_600_000 }, hard: { timeMs: 3_900_000 } }, inspect: inspector.inspect });
      await h.a.km.acquire(acquireReq, new AbortController().signal);
      for (let i = 0; i < 3; i++) await h.tick(10);
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !received.some((e) => e.type === '@xstate.snapshot' && JSON.stringify(e).includes('mature'))) await new Promise((r) => setTimeout(r, 50));
      expect(received.some((e) => e.type === '@xstate.actor')).toBe(true);
      expect(received.some((e) => e.type === '@xstate.snapshot' && JSON.stringify(e).includes('mature'))).toBe(true);
    } finally {
      sub.unsubscribe();
      inspector.stop();
      server.stop();
    }
  }, 20_000);
});
