import { describe, expect, it } from 'vitest';

describe('the published entry point', () => {
  it('ipsec-es/engine resolves to the built package and seals a packet', async () => {
    // Self-reference through package.json "exports": what a user's `import` gets.
    const engine = await import('ipsec-es/engine');
    const common = {
      spi: 0x1001,
      mode: 'tunnel' as const,
      tunnel: { src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2) },
      suite: { encr: engine.ENCR.AES_GCM_16, encrKeyBits: 128, integ: engine.INTEG.NONE },
      keys: { encKey: new Uint8Array(20).fill(9) },
    };
    const out = engine.createEspSa({ ...common, id: 'sa-1', direction: 'outbound' });
    const inn = engine.createEspSa({ ...common, id: 'sa-1', direction: 'inbound' });
    const inner = new Uint8Array(28);
    engine.writeIpv4Header(inner, 0, { totalLength: 28, protocol: engine.IPPROTO.UDP, src: Uint8Array.of(10, 0, 0, 1), dst: Uint8Array.of(10, 0, 0, 2) });
    const sealed = engine.encapsulate(inner, out, engine.sequenceIv);
    expect(sealed.ok).toBe(true);
    if (!sealed.ok) return;
    const opened = engine.decapsulate(sealed.packet, () => inn);
    expect(opened.ok && engine.toHex(opened.packet)).toBe(engine.toHex(inner));
  });
});

describe('the control-plane entry points', () => {
  it('ipsec-es/machines, /streams and /adapters resolve to the built package and run a keyed gateway pair', async () => {
    const { createGateway, manualKeying } = await import('ipsec-es/machines');
    const { processOutbound, processInbound } = await import('ipsec-es/streams');
    const { memoryEventStore, memoryKeyStore, factLog, seededRandom } = await import('ipsec-es/adapters');
    const engine = await import('ipsec-es/engine');
    const { SimulatedClock } = await import('xstate');
    const clock = new SimulatedClock();
    clock.set(Date.parse('2026-11-22T00:00:00Z'));
    const random = seededRandom(1);
    const any = { kind: 'any' as const };
    const ip = (...o: number[]) => Uint8Array.from(o);
    const protect = (src: Uint8Array, dst: Uint8Array) => ({ protocol: 'esp' as const, mode: 'tunnel' as const, tunnel: { src, dst }, lifetimes: { soft: {}, hard: {} }, replayWindow: 64, esn: false, offload: 'none' as const, proposals: [{ encr: engine.ENCR.AES_GCM_16, encrKeyBits: 128, integ: engine.INTEG.NONE }] });
    const [A, B] = [ip(192, 0, 2, 1), ip(192, 0, 2, 2)];
    const spd = (name: string) => new engine.Spd([
      { id: `${name}-out`, priority: 1, direction: 'outbound', action: 'protect', protect: name === 'a' ? protect(A, B) : protect(B, A), selectors: [{ localAddress: any, remoteAddress: any, protocol: any, localPort: any, remotePort: any }] },
      { id: `${name}-in`, priority: 1, direction: 'inbound', action: 'protect', protect: name === 'a' ? protect(B, A) : protect(A, B), selectors: [{ localAddress: any, remoteAddress: any, protocol: any, localPort: any, remotePort: any }] },
    ]);
    const gw = (name: string) => createGateway({ name, deps: { clock, random, log: factLog(memoryEventStore()) }, keys: memoryKeyStore(), spd: spd(name) });
    const a = gw('a');
    const b = gw('b');
    const km = manualKeying({ gateway: a, address: '192.0.2.1', outPolicyId: 'a-out', inPolicyId: 'a-in' }, { gateway: b, address: '192.0.2.2', outPolicyId: 'b-out', inPolicyId: 'b-in' }, { encr: engine.ENCR.AES_GCM_16, encrKeyBits: 128, integ: engine.INTEG.NONE, esn: false, replayWindow: 64, lifetimes: { soft: {}, hard: {} } }, random);
    await km.a.acquire({ acquireId: 'p', policyId: 'a-out', selectorIndex: 0, packet: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2', protocol: 17, localPort: 1, remotePort: 2 } }, new AbortController().signal);
    const inner = new Uint8Array(28);
    engine.writeIpv4Header(inner, 0, { totalLength: 28, protocol: engine.IPPROTO.UDP, src: ip(10, 0, 0, 1), dst: ip(10, 0, 0, 2) });
    inner.set([0, 1, 0, 2, 0, 8], 20); // UDP ports 1 → 2, length 8
    const wire: Uint8Array[] = [];
    processOutbound(a, inner.slice(), wire);
    const delivered: Uint8Array[] = [];
    processInbound(b, wire[0]!, delivered);
    expect(delivered.map(engine.toHex)).toEqual([engine.toHex(inner)]);
    a.stop();
    b.stop();
  });
});
