import { describe, expect, it } from 'vitest';
import { emulatedNic, type EmulatedNicOptions } from '../../../adapters/nic/emulatedNic.js';
import type { NicRxIndication, NicSaSpec } from '../../../adapters/nic/types.js';
import { toHex } from '../../../engine/bytes.js';
import { createEspTransform } from '../../../engine/crypto/espTransform.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { sequenceIv } from '../../../engine/esp/ivSource.js';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { rewriteIpv4ProtocolAndLength, writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { innerPacket, keysFor, V4_A, V4_B } from '../../engine/esp/fixtures.js';

const GCM = { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE } as const;
const CBC = { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 } as const;
const GW_A = Uint8Array.of(198, 51, 100, 1);
const GW_B = Uint8Array.of(198, 51, 100, 2);

/** A tunnel-mode SA spec GW_A → GW_B (or a transport one A → B), both directions alike. */
function spec(direction: 'inbound' | 'outbound', spi: number, o: Partial<NicSaSpec> = {}): NicSaSpec {
  const suite = o.suite ?? GCM;
  const transport = o.mode === 'transport';
  return {
    id: `${direction}-${spi}`, direction, spi, suite, keys: keysFor(suite, spi), mode: 'tunnel',
    ...(transport ? { dst: V4_B } : { tunnel: { src: GW_A, dst: GW_B }, dst: GW_B }),
    ...o,
  };
}

/** NIC A sends on `spi`, NIC B receives on it. */
async function pair(spi = 0x2001, o: Partial<NicSaSpec> = {}, options: Partial<EmulatedNicOptions> = {}) {
  const a = emulatedNic({ name: 'a', ivSource: sequenceIv, ...options });
  const b = emulatedNic({ name: 'b', ...options });
  const [tx] = await a.addSa([spec('outbound', spi, o)]);
  const [rx] = await b.addSa([spec('inbound', spi, o)]);
  const send = (payload = Uint8Array.of(1, 2, 3, 4)) => {
    const [r] = a.transmit([{ handle: tx!.handle!, packet: innerPacket(4, payload) }]);
    if (!r!.ok) throw new Error(`not sent: ${r!.reason}`);
    return r!.packet;
  };
  return { a, b, tx: tx!.handle!, rx: rx!.handle!, send };
}

const status = (ind: NicRxIndication | undefined) => (ind?.cryptoDone ? ind.cryptoStatus : `bypass:${ind?.bypass}`);

describe('emulated NIC: ADD_SA, capacity, DELETE_SA, UPDATE_SA', () => {
  it('a batch is all-or-nothing: one SA over capacity → no SA added, null handles, the reason on that SA', async () => {
    const nic = emulatedNic({ name: 'n', capabilities: { saOffloadCapacity: 3 } });
    const batch = [1, 2, 3, 4].map((i) => spec('inbound', 0x3000 + i));
    expect(await nic.addSa(batch)).toEqual([{ handle: null }, { handle: null }, { handle: null }, { handle: null, reason: 'capacity' }]);
    expect(nic.saCount).toBe(0);
    const ok = await nic.addSa(batch.slice(0, 3));
    expect(ok.map((r) => r.handle)).toEqual([1, 2, 3]);
    expect(await nic.addSa([spec('inbound', 0x3009)])).toEqual([{ handle: null, reason: 'capacity' }]);
    expect(await nic.deleteSa(2)).toBe(true);
    expect(await nic.deleteSa(2)).toBe(false);
    expect((await nic.addSa([spec('inbound', 0x3009)]))[0]!.handle).toBe(4);
    expect(nic.counters).toMatchObject({ addSaCalls: 4, saAdded: 4, saDeleted: 1, saRejected: 5 });
  });

  it('an SA the NIC does not declare fails its whole batch with unsupported; a bad key or a duplicate throws', async () => {
    const nic = emulatedNic({ name: 'n', capabilities: { encryption: [ENCR.AES_GCM_16], udpEsp: false } });
    const ctr = spec('inbound', 0x3101, { suite: { encr: ENCR.AES_CTR, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 } });
    expect(await nic.addSa([spec('inbound', 0x3100), ctr])).toEqual([{ handle: null }, { handle: null, reason: 'unsupported' }]);
    expect(await nic.addSa([spec('inbound', 0x3102, { natT: { srcPort: 4500, dstPort: 4500 } })])).toEqual([{ handle: null, reason: 'unsupported' }]);
    await expect(nic.addSa([{ ...spec('inbound', 0x3103), keys: { encKey: new Uint8Array(3) } }])).rejects.toThrow(/^encKey: /);
    await expect(nic.addSa([spec('inbound', 0x3104), spec('inbound', 0x3104)])).rejects.toThrow(/^batch: /);
    expect(nic.saCount).toBe(0);
    expect(() => emulatedNic({ name: 'n', capabilities: { ah: true } })).toThrow(/^capabilities: .*ESP only/);
  });

  it('UPDATE_SA: an outbound SA continues after the sequence given; an inbound ESN SA moves to the high bits given', async () => {
    const { a, b, tx, rx, send } = await pair(0x3200, { esn: true, sequenceStart: { hi: 5, lo: 10 } });
    // Receiver at Seq_hi 0, sender at 5: the ICV cannot verify until the stack says where it is.
    expect(status(b.receive([send()])[0])).toBe('authFailed');
    expect(await b.updateSa(rx, { seqHi: 5 })).toBe(true);
    const [ind] = b.receive([send()]);
    expect(ind!.cryptoDone && ind!.layers[0]).toMatchObject({ status: 'success', seqHi: 5, seqLo: 12 });
    expect(await a.updateSa(tx, { sequence: { hi: 5, lo: 1000 } })).toBe(true);
    const [r] = a.transmit([{ handle: tx, packet: innerPacket(4, Uint8Array.of(9)) }]);
    expect(r!.ok && [r!.seqHi, r!.seqLo]).toEqual([5, 1001]);
    expect(await a.updateSa(999, {})).toBe(false);
  });
});

describe('emulated NIC: receive indications', () => {
  it('unknown SPI, or a known SPI to another address: indicated without offload information', async () => {
    const { b, send } = await pair();
    const other = await pair(0x2002);
    expect(b.receive([other.send()])[0]).toMatchObject({ cryptoDone: false, nextCryptoDone: false, saDeleteRequest: false, bypass: 'noSa' });
    const packet = send();
    packet.set(V4_A, 16); // a different outer destination (checksum fixed below)
    rewriteIpv4ProtocolAndLength(packet, IPPROTO.ESP, packet.length);
    expect(b.receive([packet])[0]).toMatchObject({ cryptoDone: false, bypass: 'noSa' });
    const plain = innerPacket(4, Uint8Array.of(1));
    expect(b.receive([plain])[0]).toMatchObject({ cryptoDone: false, bypass: 'malformed', packet: plain });
    // DNS whose first octets happen to be an offloaded SPI: not port 4500, not ESP.
    const dns = innerPacket(4, Uint8Array.of(0, 53, 0, 53, 0, 16, 0, 0, 0, 0, 0x20, 0x01, 0, 0, 0, 1));
    dns.set(GW_B, 16);
    rewriteIpv4ProtocolAndLength(dns, IPPROTO.UDP, dns.length);
    expect(b.receive([dns])[0]).toMatchObject({ cryptoDone: false, bypass: 'notIpsec' });
  });

  it('tampered: still indicated, cryptoDone with authFailed, the bytes left as they came', async () => {
    const { b, send } = await pair();
    const packet = send();
    packet[40]! ^= 0x80;
    const before = toHex(packet);
    const [ind] = b.receive([packet]);
    expect(ind).toMatchObject({ cryptoDone: true, cryptoStatus: 'authFailed', layers: [{ status: 'authFailed', seqLo: 1 }] });
    expect(toHex(ind!.packet)).toBe(before);
    expect(b.counters).toMatchObject({ rxPackets: 1, rxCryptoDone: 1, rxAuthFailed: 1 });
  });

  it('does not check replay: the same packet twice is indicated as success twice (the stack decides)', async () => {
    const { b, send } = await pair();
    const packet = send();
    expect(b.receive([packet.slice(), packet.slice()]).map(status)).toEqual(['success', 'success']);
  });

  it('padding that is not 1, 2, 3, ... under a valid ICV → paddingFailed; a ragged CBC body → invalidPacketSyntax', async () => {
    const { b } = await pair(0x2300);
    // RFC 4303 §2.4 with a bad pad byte, sealed properly: only the padding check can catch it.
    const esp = new Uint8Array(8 + 8 + 8 + 16);
    esp.set([0, 0, 0x23, 0x00, 0, 0, 0, 1]);
    esp.set([1, 2, 3, 4, 1, 7, 2, 4], 16); // payload 1,2,3,4; padding 1,7 (must be 1,2); pad length 2; next header 4
    createEspTransform(GCM, keysFor(GCM, 0x2300)).seal(esp, undefined);
    const ip = new Uint8Array(20 + esp.length);
    writeIpv4Header(ip, 0, { totalLength: ip.length, protocol: IPPROTO.ESP, src: GW_A, dst: GW_B, identification: 1 });
    ip.set(esp, 20);
    expect(status(b.receive([ip])[0])).toBe('paddingFailed');

    const cbc = await pair(0x2301, { suite: CBC });
    const ragged = cbc.send().slice(0, -1);
    rewriteIpv4ProtocolAndLength(ragged, IPPROTO.ESP, ragged.length);
    expect(status(cbc.b.receive([ragged])[0])).toBe('invalidPacketSyntax');
  });

  it('a transport SA inside a tunnel SA: both processed in one pass (NextCryptoDone)', async () => {
    const a = emulatedNic({ name: 'a' });
    const b = emulatedNic({ name: 'b' });
    const transport = { mode: 'transport' as const, suite: CBC };
    const [t, u] = await a.addSa([spec('outbound', 0x2401, transport), spec('outbound', 0x2402)]);
    await b.addSa([spec('inbound', 0x2401, transport), spec('inbound', 0x2402)]);
    const inner = innerPacket(4, Uint8Array.of(5, 6, 7));
    const [r] = a.transmit([{ handle: t!.handle!, tunnelHandle: u!.handle!, packet: inner }]);
    expect(r!.ok && r!.tunnelSeq).toEqual({ hi: 0, lo: 1 });
    const [ind] = b.receive([r!.ok ? r!.packet : new Uint8Array()]);
    expect(ind).toMatchObject({ cryptoDone: true, nextCryptoDone: true, cryptoStatus: 'success', layers: [{ mode: 'tunnel', spi: 0x2402 }, { mode: 'transport', spi: 0x2401 }] });
    const layer = ind!.cryptoDone ? ind!.layers[1]! : undefined;
    expect(layer?.status === 'success' && toHex(layer.payload)).toBe(toHex(inner.subarray(20)));
  });
});

describe('emulated NIC: what it does not offload, and injected faults', () => {
  it('packets that would need fragmenting, IPv4 options or IPv6 it does not declare: refused, no sequence number spent', async () => {
    const { a, tx } = await pair(0x2500, {}, { mtu: 200, capabilities: { ipv4Options: false } });
    expect(a.transmit([{ handle: tx, packet: innerPacket(4, new Uint8Array(200)) }])[0]).toEqual({ ok: false, reason: 'needsFragmentation' });
    const withOptions = new Uint8Array(24 + 4);
    writeIpv4Header(withOptions, 0, { totalLength: 28, protocol: IPPROTO.UDP, src: V4_A, dst: V4_B, identification: 1, options: new Uint8Array(4) });
    expect(a.transmit([{ handle: tx, packet: withOptions }])[0]).toEqual({ ok: false, reason: 'unsupported' });
    const [r] = a.transmit([{ handle: tx, packet: innerPacket(4, new Uint8Array(100)) }]);
    expect(r!.ok && r!.seqLo).toBe(1);
    const v6only = emulatedNic({ name: 'v4', capabilities: { ipv6: false } });
    const v6 = innerPacket(6, Uint8Array.of(1));
    expect(v6only.receive([v6])[0]).toMatchObject({ cryptoDone: false, bypass: 'unsupported' });
    expect(a.transmit([{ handle: 77, packet: innerPacket(4, Uint8Array.of(1)) }])[0]).toEqual({ ok: false, reason: 'noSa' });
    expect(a.counters.txRefused).toBe(3);
  });

  it('loseSa: the handle stops working both ways and its slot is free', async () => {
    const { a, b, tx, rx, send } = await pair();
    const packet = send();
    a.faults.loseSa(tx);
    b.faults.loseSa(rx);
    expect(a.transmit([{ handle: tx, packet: innerPacket(4, Uint8Array.of(1)) }])[0]).toEqual({ ok: false, reason: 'noSa' });
    expect(b.receive([packet])[0]).toMatchObject({ cryptoDone: false, bypass: 'noSa' });
    expect([a.saCount, b.saCount, a.counters.saLost]).toEqual([0, 0, 1]);
  });

  it('corrupt the next N packets, received or sent; then clean again', async () => {
    const { b, a, send } = await pair();
    b.faults.corruptNext(2);
    expect(b.receive([send(), send(), send()]).map(status)).toEqual(['authFailed', 'authFailed', 'success']);
    a.faults.corruptNext(1, 'tx');
    expect(b.receive([send(), send()]).map(status)).toEqual(['authFailed', 'success']);
  });

  it('SaDeleteReq on the next packet of an SA, once; the NIC keeps the SA until DELETE_SA', async () => {
    const { b, rx, send } = await pair();
    b.faults.requestDeleteOnNext(rx);
    const inds = b.receive([send(), send()]);
    expect(inds.map((i) => i.saDeleteRequest)).toEqual([true, false]);
    expect(inds.map(status)).toEqual(['success', 'success']);
    expect(b.saCount).toBe(1);
    expect(b.counters.rxDeleteRequests).toBe(1);
  });

  it('refuse ADD_SA with capacity (N times), then accept again; reset empties the table', async () => {
    const nic = emulatedNic({ name: 'n' });
    nic.faults.refuseAddSa(1);
    expect(await nic.addSa([spec('inbound', 0x2601), spec('inbound', 0x2602)])).toEqual([
      { handle: null, reason: 'capacity' },
      { handle: null, reason: 'capacity' },
    ]);
    expect((await nic.addSa([spec('inbound', 0x2601)]))[0]!.handle).toBe(1);
    await nic.reset();
    expect([nic.saCount, nic.counters.resets]).toEqual([0, 1]);
  });
});
