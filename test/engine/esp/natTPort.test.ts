import { describe, expect, it } from 'vitest';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa } from '../../../engine/esp/espSa.js';
import { sequenceIv } from '../../../engine/esp/ivSource.js';
import { innerPacket, saPair } from './fixtures.js';

const suite = { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE };

/** The sealed datagram with its UDP destination port rewritten (UDP checksum 0, RFC 3948 §2.1). */
function toPort(datagram: Uint8Array, port: number): Uint8Array {
  const d = datagram.slice();
  new DataView(d.buffer).setUint16(22, port);
  return d;
}

describe('ESP-in-UDP only where RFC 3948 puts it', () => {
  it('port 4500: ESP; another port: plain UDP (notIpsec), handed to SPD-I, even when its payload looks like ESP', () => {
    const { out, in: inn } = saPair({ suite, backend: 'node', mode: 'tunnel', outerVersion: 4, natT: true, esn: false, seed: 3 });
    const sealed = encapsulate(innerPacket(4, new Uint8Array(40)), out, sequenceIv);
    if (!sealed.ok) throw new Error(sealed.reason);
    expect(decapsulate(sealed.packet.slice(), () => inn).ok).toBe(true);
    expect(decapsulate(toPort(sealed.packet, 6000), () => inn)).toMatchObject({ ok: false, reason: 'notIpsec' });
  });

  it("the SA's own NAT-T port counts too (a NAT or a configuration that moved it)", () => {
    const { out } = saPair({ suite, backend: 'node', mode: 'tunnel', outerVersion: 4, natT: true, esn: false, seed: 4 });
    const { in: moved } = saPair({ suite, backend: 'node', mode: 'tunnel', outerVersion: 4, natT: true, esn: false, seed: 4 });
    const sealed = encapsulate(innerPacket(4, new Uint8Array(40)), out, sequenceIv);
    if (!sealed.ok) throw new Error(sealed.reason);
    const onPort = createEspSa({ ...moved.config, natT: { srcPort: 4500, dstPort: 6000 } });
    expect(decapsulate(toPort(sealed.packet, 6000), () => onPort).ok).toBe(true);
  });
});
