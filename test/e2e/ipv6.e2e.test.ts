/**
 * IPv6 through our gateways on real TUN devices (issue 6): one tunnel-mode SA pair carries both
 * inner families (ping -6 and ping between the hosts behind the two gateways), first over an
 * IPv4 WAN, then over an IPv6 WAN (`--listen ::`), as ESP in UDP 4500 (`ipsec-es gateway`) and
 * as raw ESP (`--esp raw`). tcpdump on the WAN sees ESP only, of the outer family asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason, newKeys, startGateway, type GatewayProcess } from './gateways.js';
import { ADDR6, WAN_FILTER, dualStackSiteConfig, enableIpv6 } from './ipv6Site.js';
import { ADDR, createTopology, listening, onePacketPerFrame, startCapture, type Topology } from './topology.js';

const why = e2eSkipReason(['tcpdump', 'iperf3']);

describe.skipIf(why !== undefined)(`IPv6 through two gateways${why ? ` (skipped: ${why})` : ''}`, () => {
  let t: Topology;
  let running: GatewayProcess[] = [];
  const stopAll = async () => {
    const stopping = running;
    running = [];
    await Promise.race([Promise.allSettled(stopping.map((g) => g.stop())), new Promise((r) => setTimeout(r, 10_000))]);
  };
  beforeAll(async () => {
    t = await createTopology();
    onePacketPerFrame(t); // the tests count ESP packets on the WAN, a tcpdump line each
    enableIpv6(t);
  }, 60_000);
  afterAll(async () => {
    try {
      await stopAll();
    } finally {
      t?.destroy();
    }
  }, 20_000);

  /** Pings both ways in both inner families while tcpdump watches the WAN; returns what it saw, a line per packet. */
  const pingBothWaysWatchingWan = async (count: number): Promise<string[]> => {
    const capture = await startCapture(t, t.ns.gwA, ['-i', 'wan0', '-nn', '-l', '-U', '-c', String(8 * count), ...WAN_FILTER]);
    for (const [ns, to] of [[t.ns.hostA, ADDR6.hostB], [t.ns.hostB, ADDR6.hostA]] as const) {
      expect(t.exec(ns, ['ping', '-6', '-c', String(count), '-i', '0.2', '-W', '2', to]), `ping -6 ${to}`).toMatch(/ 0% packet loss/);
    }
    for (const [ns, to] of [[t.ns.hostA, ADDR.hostB], [t.ns.hostB, ADDR.hostA]] as const) {
      expect(t.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to]), `ping ${to}`).toMatch(/ 0% packet loss/);
    }
    return capture.stop();
  };
  /** Waits (up to 10 s) until no TCP socket in these namespaces is still closing (FIN-WAIT, CLOSING, LAST-ACK). */
  const tcpClosed = async (topology: Topology, namespaces: string[]) => {
    for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      if (namespaces.every((ns) => topology.exec(ns, ['ss', '-Htn', 'state', 'fin-wait-1', 'state', 'fin-wait-2', 'state', 'closing', 'state', 'last-ack']).trim() === '')) return;
    }
    throw new Error('TCP connections still closing after 10 s');
  };
  const noPlaintext = (line: string) => expect(line).not.toMatch(/fd01:|fd02:|10\.1\.0\.|10\.2\.0\.|ICMP/);

  it('IPv6 (and IPv4) inner over an IPv4 WAN, ESP in UDP 4500: ping -6 both ways, 0 % loss, only ESP in UDP on the wire', async () => {
    const keys = newKeys();
    const start = (side: 'a' | 'b') => startGateway(t, side, keys, undefined, undefined, { xml: dualStackSiteConfig(side, keys, { wan: 4, esp: 'udp' }), args: ['--route', side === 'a' ? ADDR6.lanB : ADDR6.lanA] });
    running = await Promise.all([start('a'), start('b')]);
    const lines = await pingBothWaysWatchingWan(5);
    expect(lines.length).toBe(40);
    for (const line of lines) {
      expect(line).toMatch(/^\S+ IP 192\.0\.2\.[12]\.4500 > 192\.0\.2\.[12]\.4500: UDP-encap: ESP/);
      noPlaintext(line);
    }
    const status = await running[0]!.status();
    expect(status.wire).toMatchObject({ espOut: 20, espIn: 20, droppedIn: 0 });
    await stopAll();
  }, 60_000);

  it('both inner families over an IPv6 WAN (--listen ::), ESP in UDP 4500: 0 % loss, the WAN carries IPv6 UDP 4500 only; iperf3 -6 TCP passes', async () => {
    const keys = newKeys();
    const start = (side: 'a' | 'b') => startGateway(t, side, keys, undefined, undefined, { xml: dualStackSiteConfig(side, keys, { wan: 6, esp: 'udp' }), args: ['--listen', '::', '--route', side === 'a' ? ADDR6.lanB : ADDR6.lanA] });
    running = await Promise.all([start('a'), start('b')]);
    const lines = await pingBothWaysWatchingWan(5);
    expect(lines.length).toBe(40);
    for (const line of lines) {
      expect(line).toMatch(/^\S+ IP6 fd00::[12]\.4500 > fd00::[12]\.4500: UDP-encap: ESP/);
      noPlaintext(line);
    }
    // A TCP stream of full-sized IPv6 segments (the TUN MTU is 1400) over the IPv6 WAN.
    const server = t.spawn(t.ns.hostB, ['iperf3', '-s', '-1', '-B', ADDR6.hostB]);
    await listening(t, t.ns.hostB, 5201);
    const tcp = JSON.parse(t.exec(t.ns.hostA, ['iperf3', '-6', '-c', ADDR6.hostB, '-t', '2', '-J'], 30_000)) as { end: { sum_received: { bytes: number; bits_per_second: number }; sum_sent: { retransmits: number } } };
    await new Promise((r) => server.once('exit', r));
    expect(tcp.end.sum_received.bytes).toBeGreaterThan(1_000_000);
    console.log(`iperf3 -6 through the tunnel over an IPv6 WAN: TCP ${(tcp.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s, ${tcp.end.sum_sent.retransmits} retransmits`);
    // The TCP connections finish closing through this tunnel: a FIN retransmitted after the
    // gateways stop would cross the next test's tunnel and count there.
    await tcpClosed(t, [t.ns.hostA, t.ns.hostB]);
    await stopAll();
  }, 60_000);

  it('both inner families over an IPv6 WAN as raw ESP (IP protocol 50 on an AF_INET6 raw socket)', async () => {
    const keys = newKeys();
    const start = (side: 'a' | 'b') =>
      startGateway(t, side, keys, undefined, undefined, { xml: dualStackSiteConfig(side, keys, { wan: 6, esp: 'raw' }), args: ['--esp', 'raw', '--listen', '::', '--route', side === 'a' ? ADDR6.lanB : ADDR6.lanA] });
    running = await Promise.all([start('a'), start('b')]);
    const lines = await pingBothWaysWatchingWan(5);
    expect(lines.length).toBe(40);
    for (const line of lines) {
      expect(line).toMatch(/^\S+ IP6 fd00::[12] > fd00::[12]: ESP\(spi=0x[0-9a-f]{8},seq=0x[0-9a-f]+\)/);
      expect(line).not.toMatch(/UDP|4500/);
      noPlaintext(line);
    }
    const status = await running[1]!.status();
    expect(status.wire).toMatchObject({ espOut: 20, espIn: 20, droppedIn: 0, droppedOut: 0 });
    await stopAll();
  }, 60_000);
});
