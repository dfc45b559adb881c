/**
 * Two of our gateways carrying ESP as IP protocol 50 (RFC 4303 without UDP encapsulation) through
 * the raw ESP bind of our own addon (native/tun/raw.c): four namespaces, real TUN devices, static
 * SAs without NAT-T. The WAN must show ESP (protocol 50) and nothing else: no UDP 4500, no
 * plaintext. Bad ESP from the WAN is counted, the gateway keeps running. The gateways are
 * `ipsec-es gateway --esp raw`.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason, newKeys, startGateway, type GatewayProcess } from './gateways.js';
import { siteConfig } from './siteConfig.js';
import { ADDR, createTopology, startCapture, type Topology } from './topology.js';

const why = e2eSkipReason(['tcpdump']);
const ADDON = resolve(import.meta.dirname, '../../native/tun/build/Release/ipsec_es_tun.node');

/** The e2e site's policy file with its SAs as plain ESP: the ESP-in-UDP encapsulation removed. */
const rawSite = (side: 'a' | 'b', keys: ReturnType<typeof newKeys>) => siteConfig(side, keys).replace(/\s*<encapsulation-type>.*?<\/encapsulation-type>/g, '');

describe.skipIf(why !== undefined)(`two gateways over raw ESP (IP protocol 50)${why ? ` (skipped: ${why})` : ''}`, () => {
  let t: Topology;
  let a: GatewayProcess;
  let b: GatewayProcess;
  beforeAll(async () => {
    t = await createTopology();
    const keys = newKeys();
    expect(rawSite('a', keys)).not.toContain('espinudp');
    const start = (side: 'a' | 'b') => startGateway(t, side, keys, undefined, undefined, { xml: rawSite(side, keys), args: ['--esp', 'raw'] });
    [a, b] = await Promise.all([start('a'), start('b')]);
  }, 60_000);
  afterAll(async () => {
    try {
      await Promise.race([Promise.allSettled([a?.stop(), b?.stop()]), new Promise((r) => setTimeout(r, 10_000))]);
    } finally {
      t?.destroy();
    }
  }, 20_000);

  it('ping both ways, 0 % loss; tcpdump on the WAN sees only ESP (protocol 50), no UDP, no plaintext', async () => {
    const capture = await startCapture(t, t.ns.gwA, ['-i', 'wan0', '-nn', '-l', '-U', '-v', '-c', '40', 'not', 'arp']);
    expect(t.exec(t.ns.hostA, ['ping', '-c', '10', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
    expect(t.exec(t.ns.hostB, ['ping', '-c', '10', '-i', '0.2', '-W', '2', ADDR.hostA])).toMatch(/ 0% packet loss/);
    await capture.stop();
    // -v prints each packet on two lines: the IP header (proto ESP (50)), then the ESP header.
    const text = capture.text().replace(/\n\s+/g, ' ');
    const packets = text.split('\n').filter((l) => l.trim());
    expect(packets.length).toBeGreaterThanOrEqual(40);
    for (const p of packets) {
      expect(p).toMatch(/proto ESP \(50\).* 192\.0\.2\.[12] > 192\.0\.2\.[12]: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)/);
      expect(p).not.toMatch(/UDP|4500|ICMP|10\.1\.0\.10|10\.2\.0\.10/);
    }
    const s = await a.status();
    expect(s.wire).toMatchObject({ espOut: 20, espIn: 20, droppedIn: 0, droppedOut: 0 });
    expect(s.drops).toEqual({});
  }, 60_000);

  it('bad ESP on the WAN (an unknown SPI, a truncated packet) is counted, and the gateway keeps running', async () => {
    const script = `const raw = require(${JSON.stringify(ADDON)}).raw; const [h] = raw.open(4, '0.0.0.0', 0, 0, '');
      const junk = [Uint8Array.of(0, 0, 0x99, 0x99, 0, 0, 0, 1, ...new Array(40).fill(7)), Uint8Array.of(1, 2, 3)];
      const errnos = new Int32Array(2); console.log(raw.send(h, junk, ['${ADDR.gwBWan}', '${ADDR.gwBWan}'], 2, errnos)); raw.close(h, () => {});`;
    expect(t.exec(t.ns.gwA, [process.execPath, '-e', script]).trim()).toBe('2');
    await new Promise((r) => setTimeout(r, 300));
    const s = await b.status();
    expect(s.drops).toMatchObject({ unknownSpi: 1, truncated: 1 });
    expect(s.wire).toMatchObject({ droppedIn: 1 });
    expect(t.exec(t.ns.hostA, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
  }, 30_000);

  it('stops cleanly on SIGTERM', async () => {
    const { code, last } = await a.stop();
    expect(code).toBe(0);
    // The stopping line's socket counters: every ESP packet went through the raw socket.
    const udp = (last as { udp: { sent: number; received: number; sendErrors: number } }).udp;
    expect(udp.sent).toBeGreaterThanOrEqual(23);
    expect(udp.received).toBeGreaterThanOrEqual(23);
    expect(udp.sendErrors).toBe(0);
  }, 30_000);
});
