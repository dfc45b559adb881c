/**
 * What only the node:dgram bind has: socket buffers and their reported sizes, `'error'` events
 * that never reach the process, bind failures, dual-stack address reporting, the kernel's drop
 * counter, the raw ESP option, and the loss measurement with the kernel's default buffers
 * against 4 MiB.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IpsecError } from '../../../engine/errors.js';
import { DEFAULT_SOCKET_BUFFER, udpBind, type UdpBind } from '../../../adapters/udp/udpBind.js';
import type { DatagramBindEvent } from '../../../adapters/udp/types.js';
import { burstFromAnotherThread, burstIndices, burstOutcome, collect, until } from './helpers.js';

const open: UdpBind[] = [];
const bind = async (o: Parameters<typeof udpBind>[0]) => {
  const b = await udpBind(o);
  open.push(b);
  return b;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

describe('udpBind', () => {
  it('asks for 4 MiB send and receive buffers and reports what the kernel granted', async () => {
    const b = await bind({ address: '127.0.0.1', port: 0 });
    expect(DEFAULT_SOCKET_BUFFER).toBe(4 * 1024 * 1024);
    for (const size of [b.buffers.recv, b.buffers.send]) {
      expect(size.requested).toBe(DEFAULT_SOCKET_BUFFER);
      expect(Object.keys(size).sort()).toEqual(['actual', 'clamped', 'requested']);
      // Linux doubles what it grants; a cap (net.core.rmem_max) makes it smaller, and says so.
      expect(size.clamped).toBe(size.actual < DEFAULT_SOCKET_BUFFER);
    }
    console.info(`[udpBind] buffers: recv ${JSON.stringify(b.buffers.recv)}, send ${JSON.stringify(b.buffers.send)}`);
    const system = await bind({ address: '127.0.0.1', port: 0, recvBufferSize: 'system', sendBufferSize: 'system' });
    expect(system.buffers.recv).toEqual({ requested: 'system', actual: system.socket.getRecvBufferSize(), clamped: false });
  });

  it("counts the socket's 'error' events and reports them; the process and the bind carry on", async () => {
    const b = await bind({ address: '127.0.0.1', port: 0 });
    const peer = await bind({ address: '127.0.0.1', port: 0 });
    const events: DatagramBindEvent[] = [];
    b.onEvent((e) => events.push(e));
    // What a connected socket gets on ICMP port unreachable; without a handler Node would throw it.
    b.socket.emit('error', Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    b.socket.emit('error', Object.assign(new Error('recvmsg EHOSTUNREACH'), { code: 'EHOSTUNREACH' }));
    expect(b.counters.socketErrors).toBe(2);
    expect(events).toEqual([
      { kind: 'socketError', code: 'ECONNREFUSED', message: 'recvmsg ECONNREFUSED' },
      { kind: 'socketError', code: 'EHOSTUNREACH', message: 'recvmsg EHOSTUNREACH' },
    ]);
    const got = collect(peer);
    b.send([{ data: Uint8Array.of(1, 2, 3), address: '127.0.0.1', port: peer.localPort }]);
    await until(() => got.length === 1, 'a datagram after the errors');
  });

  it('a port in use rejects with bind.failed naming the errno; misuse names the option', async () => {
    const first = await bind({ address: '127.0.0.1', port: 0 });
    const e = await udpBind({ address: '127.0.0.1', port: first.localPort }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IpsecError);
    expect((e as IpsecError).code).toBe('bind.failed');
    expect((e as IpsecError).message).toMatch(/EADDRINUSE/);
    await expect(udpBind({ address: 'localhost' })).rejects.toThrow(TypeError);
    await expect(udpBind({ address: 'localhost' })).rejects.toThrow(/^address:/);
    await expect(udpBind({ address: '127.0.0.1', port: -1 })).rejects.toThrow(/^port:/);
    await expect(udpBind({ address: '127.0.0.1', recvBufferSize: 0 })).rejects.toThrow(/^recvBufferSize:/);
    await expect(udpBind({ address: '127.0.0.1', maxBatch: 0 })).rejects.toThrow(/^maxBatch:/);
  });

  it('defaults to port 4500 (RFC 3948 §2.1)', async () => {
    // 127.45.x.y: a loopback address of our own, so 4500 is very likely free.
    const b = await udpBind({ address: '127.45.9.1' }).catch(() => undefined);
    if (b === undefined) return; // someone holds 4500 on every address: nothing to learn here
    open.push(b);
    expect(b.localPort).toBe(4500);
  });

  it('a dual-stack bind reports IPv4 peers as IPv4 and sends to IPv4 addresses', async () => {
    const dual = await bind({ address: '::', port: 0, ipv6Only: false });
    const v4 = await bind({ address: '127.0.0.1', port: 0 });
    const v6 = await bind({ address: '::1', port: 0 });
    const atDual = collect(dual);
    const atV4 = collect(v4);
    v4.send([{ data: Uint8Array.of(4), address: '127.0.0.1', port: dual.localPort }]);
    v6.send([{ data: Uint8Array.of(6), address: '::1', port: dual.localPort }]);
    await until(() => atDual.length === 2, 'both families at the dual-stack bind');
    const from4 = atDual.find((d) => d.data[0] === 4)!;
    expect(from4.address).toBe('127.0.0.1');
    expect(atDual.find((d) => d.data[0] === 6)!.address).toBe('::1');
    dual.send([{ data: Uint8Array.of(9), address: from4.address, port: from4.port }]);
    await until(() => atV4.length === 1, 'the reply over IPv4');
  });

  it("reads the kernel's drop counter for its own socket; undefined once closed", async () => {
    const b = await bind({ address: '127.0.0.1', port: 0 });
    expect(await b.kernelDrops()).toBe(0);
    await b.close();
    expect(await b.kernelDrops()).toBeUndefined();
  });

  it('a 4 MiB buffer queues in proportion to its grant (~40× the kernel default): a 20 000 datagram burst with this thread frozen', async () => {
    // The receiver is frozen for the whole burst, so what each socket holds afterwards is what its
    // buffer can queue (a 1400-octet datagram costs ~2.3 KiB of buffer on loopback), not how fast
    // this thread drained it: the same numbers on an idle machine and under a loaded CI run.
    // How much a live gateway loses to a burst is a speed question: `bench/udp.bench.ts` prints it.
    const n = 20_000;
    const measure = async (label: string, size: number | 'system') => {
      const b = await bind({ address: '127.0.0.1', port: 0, recvBufferSize: size });
      const got = collect(b);
      const { sent } = await burstFromAnotherThread({ address: '127.0.0.1', port: b.localPort }, n, 1400, 256, { freeze: true });
      expect(sent).toBe(n);
      const outcome = await burstOutcome(got, n, async () => (await b.kernelDrops())!);
      expect(burstIndices(got).size).toBe(got.length);
      expect(outcome.received + outcome.kernelDrops).toBe(n); // every loss is a counted kernel drop
      const granted = b.buffers.recv.actual;
      console.info(`[udpBind] ${label} receive buffer (${granted} octets granted), receiver frozen: ${n} sent, ${outcome.received} queued, ${outcome.kernelDrops} dropped by the kernel`);
      // What was queued filled the buffer: between one datagram per 4 KiB and one per 1400 octets.
      expect(outcome.received).toBeGreaterThanOrEqual(Math.floor(granted / 4096));
      expect(outcome.received).toBeLessThanOrEqual(Math.ceil(granted / 1400));
      await b.close();
      return { queued: outcome.received, granted };
    };
    const withDefault = await measure('system default', 'system');
    const with4MiB = await measure('4 MiB', DEFAULT_SOCKET_BUFFER);
    expect(with4MiB.queued).toBeGreaterThanOrEqual(Math.floor((with4MiB.granted / withDefault.granted) * withDefault.queued * 0.9));
  });
});
