/**
 * The native bind (sendmmsg/recvmmsg through native/tun/udp.c): the same `DatagramBind`
 * contract as node:dgram on 127.0.0.1 and ::1, interop with a plain node:dgram socket both
 * ways, a batch of 64 in one call arriving whole, dual-stack, and the buffer sizes. Skipped,
 * saying why, when the addon is not built.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { IpsecError } from '../../../engine/errors.js';
import { nativeUdpBind, type NativeUdpBind } from '../../../adapters/udp/nativeUdpBind.js';
import { DEFAULT_SOCKET_BUFFER } from '../../../adapters/udp/udpBind.js';
import type { Datagram } from '../../../adapters/udp/types.js';
import { datagramBindContract } from './bind.contract.js';
import { burstFromAnotherThread, closedPort, collect, until } from './helpers.js';

async function probe(address: string): Promise<string | undefined> {
  try {
    await (await nativeUdpBind({ address, port: 0 })).close();
    return undefined;
  } catch (e) {
    if (e instanceof IpsecError && e.code === 'bind.nativeUnavailable') return e.message;
    return `${address} cannot be bound: ${(e as Error).message}`;
  }
}
const unavailable = await probe('127.0.0.1');
const noIpv6 = unavailable ?? (await probe('::1'));
const skipped = (why: string | undefined) => (why === undefined ? '' : ` — skipped: ${why}`);

const loopbacks = [['127.0.0.1', unavailable], ['::1', noIpv6]] as const;
for (const [loopback, why] of loopbacks) {
  if (why !== undefined) {
    describe(`DatagramBind contract: nativeUdpBind on ${loopback}`, () => {
      it.skipIf(true)(`nativeUdpBind on ${loopback}${skipped(why)}`, () => {});
    });
    continue;
  }
  datagramBindContract(`nativeUdpBind on ${loopback}`, async () => {
    const a = await nativeUdpBind({ address: loopback, port: 0 });
    const b = await nativeUdpBind({ address: loopback, port: 0 });
    return {
      a,
      b,
      unreachable: await closedPort(loopback),
      otherFamily: loopback === '::1' ? '127.0.0.1' : '::1',
      burst: async (to, n, size) => (await burstFromAnotherThread(to, n, size)).sent,
      kernelDrops: () => b.kernelDrops(),
      cleanup: async () => {
        await Promise.all([a.close(), b.close()]);
      },
    };
  });
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe('nativeUdpBind: what the contract does not cover', () => {
  const binds: NativeUdpBind[] = [];
  const sockets: dgram.Socket[] = [];
  const open = async (o: Parameters<typeof nativeUdpBind>[0]) => {
    const b = await nativeUdpBind(o);
    binds.push(b);
    return b;
  };
  const plain = async (address: string): Promise<dgram.Socket> => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    sockets.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(binds.splice(0).map((b) => b.close()));
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  for (const [loopback, why] of loopbacks) {
    it.skipIf(why !== undefined)(`interop with node:dgram both ways on ${loopback}${skipped(why)}`, async () => {
      const bind = await open({ address: loopback, port: 0 });
      const s = await plain(loopback);
      const atBind = collect(bind);
      const atSocket: Array<{ data: Buffer; port: number; address: string }> = [];
      s.on('message', (data, rinfo) => atSocket.push({ data, port: rinfo.port, address: rinfo.address }));
      s.send(bytes(1400, 1), bind.localPort, loopback);
      await until(() => atBind.length === 1, 'the dgram datagram at the native bind');
      expect(Array.from(atBind[0]!.data)).toEqual(Array.from(bytes(1400, 1)));
      expect(atBind[0]!.address).toBe(loopback);
      expect(atBind[0]!.port).toBe(s.address().port);
      bind.send([
        { data: bytes(100, 2), address: loopback, port: s.address().port },
        { data: bytes(9000, 3), address: loopback, port: s.address().port },
      ]);
      expect(bind.counters.sent).toBe(2); // sendmmsg is synchronous
      await until(() => atSocket.length === 2, 'the native datagrams at the dgram socket');
      expect(Array.from(atSocket[0]!.data)).toEqual(Array.from(bytes(100, 2)));
      expect(Array.from(atSocket[1]!.data)).toEqual(Array.from(bytes(9000, 3)));
      expect(atSocket[0]!.port).toBe(bind.localPort);
    });
  }

  it.skipIf(unavailable !== undefined)(`a batch of 64 sent in one call arrives whole, in order, in one receive batch of non-overlapping views${skipped(unavailable)}`, async () => {
    const a = await open({ address: '127.0.0.1', port: 0 });
    const b = await open({ address: '127.0.0.1', port: 0 });
    const batches: Datagram[][] = [];
    b.onReceive((batch) => batches.push(batch));
    const sent = Array.from({ length: 64 }, (_, i) => bytes(1400, i));
    a.send(sent.map((data) => ({ data, address: '127.0.0.1', port: b.localPort })));
    expect(a.counters.sent).toBe(64);
    await until(() => b.counters.received === 64, '64 datagrams');
    const got = batches.flat();
    expect(got.map((d) => Array.from(d.data))).toEqual(sent.map((d) => Array.from(d)));
    // One recvmmsg(2) per wake-up: loopback delivered all 64 before the loop polled.
    expect(batches.length).toBe(1);
    // Views of one fresh ArrayBuffer per batch, none overlapping the next.
    for (let i = 1; i < got.length; i++) expect(got[i]!.data.byteOffset).toBe(got[i - 1]!.data.byteOffset + got[i - 1]!.data.byteLength);
    got[0]!.data.fill(0);
    expect(Array.from(got[1]!.data)).toEqual(Array.from(sent[1]!));
    expect(b.counters.receiveBatches).toBe(1);
  });

  for (const gso of ['on', 'off'] as const) {
    it.skipIf(unavailable !== undefined)(`runs of one size to one destination (UDP GSO ${gso}) arrive as the datagrams they were, in order${skipped(unavailable)}`, async () => {
      // The sender's socket reads IPSEC_ES_UDP_GSO when it opens.
      if (gso === 'off') process.env.IPSEC_ES_UDP_GSO = '0';
      const a = await open({ address: '127.0.0.1', port: 0 }).finally(() => delete process.env.IPSEC_ES_UDP_GSO);
      const b = await open({ address: '127.0.0.1', port: 0 });
      const c = await open({ address: '127.0.0.1', port: 0 });
      const at = { b: collect(b), c: collect(c) };
      // Runs, a shorter one ending a run, a longer one starting a new one, another destination
      // in between, a run of 70 (more than one GSO message), an empty datagram.
      const plan: Array<[bind: 'b' | 'c', size: number]> = [
        ...Array.from({ length: 5 }, () => ['b', 1400] as ['b', number]), ['b', 600], ['b', 1400], ['c', 1400], ['c', 1400], ['b', 1400],
        ['b', 1000], ['b', 1200], ...Array.from({ length: 70 }, () => ['b', 64] as ['b', number]), ['b', 0], ['c', 9000], ['c', 9000], ['c', 100],
      ];
      const datagrams = plan.map(([to, size], i) => ({ data: bytes(size, i), address: '127.0.0.1', port: (to === 'b' ? b : c).localPort }));
      a.send(datagrams);
      expect(a.counters.sent).toBe(plan.length);
      const want = (to: 'b' | 'c') => datagrams.filter((_, i) => plan[i]![0] === to).map((d) => Array.from(d.data));
      await until(() => at.b.length === want('b').length && at.c.length === want('c').length, 'every datagram');
      expect(at.b.map((d) => Array.from(d.data))).toEqual(want('b'));
      expect(at.c.map((d) => Array.from(d.data))).toEqual(want('c'));
    });
  }

  it.skipIf(unavailable !== undefined)(`4 MiB buffers by default, granted sizes reported; 'system' leaves the kernel's${skipped(unavailable)}`, async () => {
    const b = await open({ address: '127.0.0.1', port: 0 });
    expect(b.buffers.recv.requested).toBe(DEFAULT_SOCKET_BUFFER);
    expect(b.buffers.send.requested).toBe(DEFAULT_SOCKET_BUFFER);
    // Linux doubles the request (socket(7)) unless net.core.[rw]mem_max caps it: clamped says so.
    for (const s of [b.buffers.recv, b.buffers.send]) expect(s.clamped ? s.actual < DEFAULT_SOCKET_BUFFER : s.actual >= DEFAULT_SOCKET_BUFFER).toBe(true);
    const s = await open({ address: '127.0.0.1', port: 0, recvBufferSize: 'system', sendBufferSize: 'system' });
    expect(s.buffers.recv).toMatchObject({ requested: 'system', clamped: false });
    expect(s.buffers.recv.actual).toBeGreaterThan(0);
    expect(await s.kernelDrops()).toBe(0);
    await s.close();
    expect(await s.kernelDrops()).toBeUndefined();
  });

  it.skipIf(noIpv6 !== undefined)(`dual-stack '::' with ipv6Only false: IPv4 peers as dotted quads, both ways${skipped(noIpv6)}`, async () => {
    const bind = await open({ address: '::', port: 0, ipv6Only: false });
    const s = await plain('127.0.0.1');
    const got = collect(bind);
    const back: Buffer[] = [];
    s.on('message', (data) => back.push(data));
    s.send(bytes(10, 1), bind.localPort, '127.0.0.1');
    await until(() => got.length === 1, 'the IPv4 datagram');
    expect(got[0]!.address).toBe('127.0.0.1');
    bind.send([{ data: bytes(10, 2), address: '127.0.0.1', port: s.address().port }]);
    await until(() => back.length === 1, 'the reply over IPv4');
    expect(bind.counters.sendErrors).toBe(0);
    // v6-only (the default for '::'): an IPv4 destination fails that datagram only.
    const only6 = await open({ address: '::1', port: 0 });
    only6.send([{ data: bytes(1, 1), address: '127.0.0.1', port: s.address().port }]);
    expect(only6.counters.sendErrors).toBe(1);
  });

  it.skipIf(unavailable !== undefined)(`bind failures reject with bind.failed and the errno name${skipped(unavailable)}`, async () => {
    const a = await open({ address: '127.0.0.1', port: 0 });
    await expect(nativeUdpBind({ address: '127.0.0.1', port: a.localPort })).rejects.toMatchObject({ code: 'bind.failed', message: expect.stringMatching(/EADDRINUSE/) });
    await expect(nativeUdpBind({ address: 'localhost', port: 0 })).rejects.toThrow(TypeError);
    const port = (await closedPort('127.0.0.1')).port;
    expect(port).toBeGreaterThan(0);
  });
});
