/**
 * Writing a filter hook: callbacks at two layers of the inbound path (streams/pipelines.ts).
 * A network-layer hook sees each datagram as it arrives (ESP still encrypted); a transport-layer
 * hook sees the packet about to be delivered, after decryption and the inbound policy check,
 * and is told whether IPsec secured it and by which SA. Each returns 'permit', 'drop' or
 * { modified: bytes }; a hook that throws drops that packet (counted), never the stream.
 *
 *   npx tsx examples/filterHook.ts
 */
// In your project: 'ipsec-es/adapters', 'ipsec-es/streams'.
import { memoryEventStore } from '../adapters/index.js';
import { processInbound, processOutbound, type FilterHooks } from '../streams/index.js';
import { gatewayPair, udpPacket } from './shared/pair.js';

const { a, b } = await gatewayPair(memoryEventStore(), memoryEventStore());

const seen = { network: 0, transport: 0, dropped: 0 };
const hooks: FilterHooks = {
  // Every datagram from the wire, before the SAD: here, count them.
  network: [(_datagram) => { seen.network++; return 'permit'; }],
  // After decryption: drop UDP to port 5001 whose payload starts with an odd number, unless not secured at all.
  transport: [
    (packet, info) => {
      seen.transport++;
      if (!info.ipsecSecured) return 'drop'; // plain traffic has no business on this LAN
      const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
      if (view.getUint16(22) === 5001 && view.getUint32(28) % 2 === 1) {
        seen.dropped++;
        return 'drop';
      }
      return 'permit';
    },
  ],
};

const delivered: Uint8Array[] = [];
const toB = (packets: Uint8Array[]) => {
  const wire: Uint8Array[] = [];
  for (const p of packets) processOutbound(a, p, wire);
  for (const d of wire) processInbound(b, d, delivered, hooks);
};
a.released$.subscribe(toB);
toB([1, 2, 3, 4, 5, 6].map((n) => udpPacket('10.1.0.5', '10.2.0.7', n)));
for (let i = 0; i < 50 && seen.network < 6; i++) await new Promise((r) => setTimeout(r, 20));
await Promise.all([a.settled(), b.settled()]);
const kept = delivered.map((p) => new DataView(p.buffer, p.byteOffset).getUint32(28));
console.log(`network hook saw ${seen.network} datagrams, transport hook ${seen.transport} packets, dropped ${seen.dropped}; delivered payloads ${kept.join(', ')}`);
a.stop();
b.stop();
if (kept.join(',') !== '2,4,6') process.exitCode = 1;
