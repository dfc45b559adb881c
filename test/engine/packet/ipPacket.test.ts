import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { ipv4Address, ipv6Address, kernelPacket, rfc3602EspCases } from './vectors.js';

function mustParse(bytes: Uint8Array) {
  const r = parseIp(bytes);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  return r;
}

describe('parseIp', () => {
  it('IPv4 (RFC 3602 vectors): uniform fields', () => {
    for (const v of rfc3602EspCases()) {
      const bytes = fromHex(v.ip_packet);
      const r = mustParse(bytes);
      expect(r.version, v.id).toBe(4);
      expect(r.src, v.id).toEqual(ipv4Address(v.source_address));
      expect(r.dst, v.id).toEqual(ipv4Address(v.destination_address));
      expect([r.protocol, r.payloadOffset, r.fragment], v.id).toEqual([IPPROTO.ESP, 20, false]);
      expect(toHex(r.payload), v.id).toBe(v.esp_packet);
      expect(r.packet.length, v.id).toBe(bytes.length);
    }
  });

  it('IPv6 with extension headers: protocol and payload are those past the chain', () => {
    const bytes = kernelPacket('udp6_hbh_dst');
    const r = mustParse(bytes);
    expect(r.version).toBe(6);
    expect(r.src).toEqual(ipv6Address('fd00::1'));
    expect(r.dst).toEqual(ipv6Address('fd00::2'));
    expect([r.protocol, r.payloadOffset, r.fragment]).toEqual([IPPROTO.UDP, 64, false]);
    expect(toHex(r.payload)).toBe(toHex(bytes.subarray(64)));
    if (r.version === 6) expect(r.extensions.map((e) => e.type)).toEqual([IPPROTO.HOPOPTS, IPPROTO.DSTOPTS]);
  });

  it('flags fragments of either version', () => {
    for (const name of ['udp4_frag1', 'udp4_frag2', 'udp6_frag1', 'udp6_frag2'] as const) {
      expect(mustParse(kernelPacket(name)).fragment, name).toBe(true);
    }
    const v6 = mustParse(kernelPacket('udp6_frag2'));
    expect(v6.version === 6 && v6.fragmentHeader?.offset).toBe(1232);
  });

  it('bounds the payload by Total Length / Payload Length, ignoring link padding', () => {
    for (const name of ['udp4', 'udp6'] as const) {
      const packet = kernelPacket(name);
      const padded = new Uint8Array(packet.length + 6).fill(0x55);
      padded.set(packet);
      const r = mustParse(padded);
      expect(r.packet.length, name).toBe(packet.length);
      expect(r.payloadOffset + r.payload.length, name).toBe(packet.length);
    }
  });

  it('drops empty input as truncated and other versions as malformed, passes on inner drops', () => {
    expect(parseIp(new Uint8Array(0))).toEqual({ ok: false, reason: 'truncated' });
    expect(parseIp(fromHex('50' + '00'.repeat(39)))).toEqual({ ok: false, reason: 'malformed' });
    expect(parseIp(fromHex('45'))).toEqual({ ok: false, reason: 'truncated' });
    expect(parseIp(kernelPacket('udp6').subarray(0, 50))).toEqual({ ok: false, reason: 'truncated' });
    const bad = kernelPacket('udp4');
    bad[10]! ^= 0xff;
    expect(parseIp(bad)).toEqual({ ok: false, reason: 'badChecksum' });
  });
});
