/**
 * Two of our gateways end to end (issue 6): four namespaces, the only path between the LANs is
 * our tunnel (real TUN devices, ESP in UDP 4500, the embedded event log on disk).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeCryptoStatus } from '../../engine/crypto/nativeBackend.js';
import { e2eSkipReason, newKeys, startGateway, type GatewayProcess } from './gateways.js';
import { ADDR, createTopology, listening, onePacketPerFrame, startCapture, type Topology } from './topology.js';

const why = e2eSkipReason(['iperf3', 'tcpdump']);

describe.skipIf(why !== undefined)(`two gateways in network namespaces${why ? ` (skipped: ${why})` : ''}`, () => {
  let t: Topology;
  let a: GatewayProcess;
  let b: GatewayProcess;
  beforeAll(async () => {
    t = await createTopology();
    onePacketPerFrame(t); // the tests count ESP packets on the WAN, a tcpdump line each
    const keys = newKeys();
    [a, b] = await Promise.all([startGateway(t, 'a', keys), startGateway(t, 'b', keys)]);
  }, 60_000);
  afterAll(async () => {
    try {
      await Promise.race([Promise.allSettled([a?.stop(), b?.stop()]), new Promise((r) => setTimeout(r, 10_000))]);
    } finally {
      t?.destroy();
    }
  }, 20_000);

  it('runs the crypto back end asked for: $IPSEC_ES_CRYPTO (CI runs these tests with node too), else native when built', () => {
    const expected = process.env.IPSEC_ES_CRYPTO ?? (nativeCryptoStatus().available ? 'native' : 'node');
    for (const g of [a, b]) expect(g.lines.find((l) => l.event === 'started')?.crypto).toBe(expected);
  });

  it('ping both ways, 0 % loss, and the WAN carries only ESP in UDP 4500', async () => {
    const capture = await startCapture(t, t.ns.gwA, ['-i', 'wan0', '-nn', '-l', '-U', '-c', '40', 'not', 'arp']);
    expect(t.exec(t.ns.hostA, ['ping', '-c', '10', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
    expect(t.exec(t.ns.hostB, ['ping', '-c', '10', '-i', '0.2', '-W', '2', ADDR.hostA])).toMatch(/ 0% packet loss/);
    const lines = await capture.stop();
    expect(lines.length).toBeGreaterThanOrEqual(30);
    for (const line of lines) {
      expect(line).toMatch(/192\.0\.2\.[12]\.4500 > 192\.0\.2\.[12]\.4500: UDP-encap/);
      expect(line).not.toContain('10.1.0.10');
      expect(line).not.toContain('ICMP');
    }
  }, 60_000);

  it('a UDP stream and a TCP stream (iperf3) pass through the tunnel', async () => {
    const server = t.spawn(t.ns.hostB, ['iperf3', '-s', '-1', '-B', ADDR.hostB]);
    await listening(t, t.ns.hostB, 5201);
    const tcp = JSON.parse(t.exec(t.ns.hostA, ['iperf3', '-c', ADDR.hostB, '-t', '3', '-J'], 60_000)) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
    expect(tcp.end.sum_received.bytes).toBeGreaterThan(1_000_000);
    await new Promise((r) => server.once('exit', r));
    const udpServer = t.spawn(t.ns.hostB, ['iperf3', '-s', '-1', '-B', ADDR.hostB]);
    await listening(t, t.ns.hostB, 5201);
    const udp = JSON.parse(t.exec(t.ns.hostA, ['iperf3', '-c', ADDR.hostB, '-u', '-b', '20M', '-l', '1200', '-t', '2', '-J'], 60_000)) as { end: { sum: { lost_percent: number; packets: number } } };
    await new Promise((r) => udpServer.once('exit', r));
    expect(udp.end.sum.packets).toBeGreaterThan(1000);
    expect(udp.end.sum.lost_percent).toBeLessThan(1);
    console.log(`iperf3 through the tunnel: TCP ${(tcp.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s; UDP 20 Mbit/s offered, ${udp.end.sum.lost_percent.toFixed(2)} % lost`);
  }, 90_000);

  it('bad input on the WAN (not ESP, garbage) is counted, and the gateway keeps running', async () => {
    // A datagram to port 4500 that is neither ESP, IKE nor a keepalive; and a plain one to another port.
    const script = `const s = require('node:dgram').createSocket('udp4'); s.send(Buffer.from([0, 0]), 4500, '${ADDR.gwBWan}', () => s.send(Buffer.from('hello'), 4500, '${ADDR.gwBWan}', () => s.close()));`;
    t.exec(t.ns.gwA, [process.execPath, '-e', script]);
    await new Promise((r) => setTimeout(r, 300));
    const s = await b.status();
    expect(Object.values(s.drops as Record<string, number>).reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    expect(t.exec(t.ns.hostA, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
  }, 30_000);

  it('stops cleanly on SIGTERM, and every fact is in the log on disk', async () => {
    const { code, last } = await a.stop();
    expect(code).toBe(0);
    expect(last).toBeDefined();
    const segments = execFileSync('sh', ['-c', `ls ${join(a.store, 'log')}`]).toString();
    expect(segments).toMatch(/\S/);
    expect(readFileSync(join(a.store, 'log', segments.split('\n')[0]!.trim())).length).toBeGreaterThan(0);
  }, 30_000);
});
