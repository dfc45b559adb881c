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
