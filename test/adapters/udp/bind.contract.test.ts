/**
 * The `DatagramBind` contract against the node:dgram bind on 127.0.0.1 and ::1 and against the
 * twin, both families. The real bind's burst comes from a worker thread (another core), the
 * twin's from its peer.
 */
import { memoryBindPair } from '../../../adapters/udp/memoryBind.js';
import { udpBind } from '../../../adapters/udp/udpBind.js';
import { datagramBindContract } from './bind.contract.js';
import { burstFromAnotherThread, closedPort } from './helpers.js';

for (const loopback of ['127.0.0.1', '::1']) {
  datagramBindContract(`udpBind on ${loopback}`, async () => {
    const a = await udpBind({ address: loopback, port: 0 });
    const b = await udpBind({ address: loopback, port: 0 });
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

for (const family of [4, 6] as const) {
  datagramBindContract(`memoryBindPair (IPv${family})`, async () => {
    const [a, b] = family === 4 ? memoryBindPair() : memoryBindPair({ a: { address: '2001:db8::1' } });
    return {
      a,
      b,
      unreachable: { address: b.localAddress, port: b.localPort + 1 },
      otherFamily: family === 4 ? '2001:db8::2' : '192.0.2.2',
      burst: async (to, n, size) => {
        // Rounds of 256 per event-loop turn, like the real sender.
        for (let sent = 0; sent < n; ) {
          const round = [];
          for (let i = 0; i < 256 && sent < n; i++, sent++) {
            const data = new Uint8Array(size).fill(0xab);
            new DataView(data.buffer).setUint32(4, sent);
            round.push({ data, ...to });
          }
          a.send(round);
          await new Promise((r) => setImmediate(r));
        }
        return a.counters.sent;
      },
      kernelDrops: async () => 0,
      cleanup: async () => {
        await Promise.all([a.close(), b.close()]);
      },
    };
  });
}
