import { describe, expect, it } from 'vitest';
import { memoryTun, type MemoryTun } from '../../../adapters/tun/index.js';
import { HOST, HOST_PORT, MTU, PEER, PEER_PORT, parseUdp4, tunContractCases, udpPacket, type TunHarness } from './tun.contract.js';

/** The twin's host side: packets built and parsed here instead of the kernel's stack. */
function memoryHarness(): TunHarness {
  const devices: MemoryTun[] = [];
  const inbox: Uint8Array[] = [];
  return {
    async open(options) {
      const tun = memoryTun({ mtu: MTU, ...options });
      tun.host.onReceive((packets) => {
        for (const p of packets) {
          const udp = parseUdp4(p);
          if (udp?.dst === HOST && udp.dstPort === HOST_PORT) inbox.push(udp.payload);
        }
      });
      devices.push(tun);
      return tun;
    },
    async hostSendUdp(payloads) {
      const tun = devices.at(-1) as MemoryTun;
      tun.host.send(payloads.map((p) => udpPacket(HOST, PEER, HOST_PORT, PEER_PORT, p)));
    },
    async hostReceiveUdp(count, timeoutMs = 5000) {
      for (const deadline = Date.now() + timeoutMs; inbox.length < count && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
      if (inbox.length < count) throw new Error(`hostReceiveUdp: ${inbox.length} of ${count}`);
      return inbox.splice(0, count);
    },
    async hostSendRaw(frame) {
      (devices.at(-1) as MemoryTun).host.send([frame]);
    },
    async removeDevice(device) {
      (device as MemoryTun).host.remove();
    },
    note() {},
    async dispose() {
      await Promise.all(devices.map((d) => d.close()));
    },
  };
}

describe('memoryTun (TunDevice contract)', () => {
  for (const c of tunContractCases) {
    it(c.name, async () => {
      const h = memoryHarness();
      try {
        await c.run(h);
      } finally {
        await h.dispose();
      }
    });
  }
});

describe('memoryTun host side', () => {
  const packet = (n: number): Uint8Array => udpPacket(HOST, PEER, HOST_PORT, PEER_PORT, new Uint8Array([n]));

  it('drops what the host sends past queueLimit, as the kernel does past txqueuelen', async () => {
    const tun = memoryTun({ queueLimit: 3 });
    tun.host.send([packet(1), packet(2), packet(3), packet(4), packet(5)]);
    expect(tun.host.queueDrops).toBe(2);
    const got: number[] = [];
    await new Promise<void>((resolve) => {
      const stop = tun.read((batch) => {
        got.push(...batch.map((p) => p.at(-1) as number));
        if (got.length === 3) (stop(), resolve());
      });
    });
    expect(got).toEqual([1, 2, 3]);
  });

  it('collects written packets for take() while no listener is set; the copies are the caller’s', () => {
    const tun = memoryTun();
    const p = udpPacket(PEER, HOST, PEER_PORT, HOST_PORT, new Uint8Array([7]));
    tun.write([p, p]);
    p.fill(0);
    const taken = tun.host.take();
    expect(taken).toHaveLength(2);
    expect(parseUdp4(taken[0] as Uint8Array)?.payload).toEqual(new Uint8Array([7]));
    expect(tun.host.take()).toEqual([]);
  });

  it('overwrites a batch with 0xEE when onBatch returns', async () => {
    const tun = memoryTun();
    const kept = await new Promise<Uint8Array>((resolve) => {
      const stop = tun.read((batch) => (stop(), resolve(batch[0] as Uint8Array)));
      tun.host.send([packet(9)]);
    });
    expect(kept.every((b) => b === 0xee)).toBe(true);
  });

  it('names devices memtun0, memtun1, ... and refuses host.send once closed', async () => {
    const a = memoryTun();
    const b = memoryTun({ name: 'x0' });
    expect(a.name).toMatch(/^memtun\d+$/);
    expect(b.name).toBe('x0');
    await a.close();
    expect(() => a.host.send([packet(1)])).toThrow(/closed/);
  });

  it('a reader without onError: a deleted device throws tun.readFailed as an uncaught error', async () => {
    const tun = memoryTun();
    const uncaught = new Promise<unknown>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (e) => {
        for (const l of listeners) process.on('uncaughtException', l);
        resolve(e);
      });
    });
    tun.read(() => {});
    tun.host.remove();
    expect(String(await uncaught)).toMatch(/tun.*reading failed/i);
  });
});
