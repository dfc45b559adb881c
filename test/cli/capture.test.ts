/**
 * `ipsec-es capture`'s writer: what a tapped bind sends and receives becomes pcapng Enhanced
 * Packet Blocks of raw IP, wrapped in the header the datagram had on the wire: UDP for ESP in UDP
 * (RFC 3948), IP protocol 50 for raw ESP (RFC 4303), addresses and direction as they were.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryBindPair } from '../../adapters/udp/memoryBind.js';
import { startCapture, tappedBind } from '../../cli/capture.js';

/** The IP datagrams of a pcapng file written by `startCapture` (one SHB, one IDB, then EPBs). */
function packetsOf(path: string): Buffer[] {
  const f = readFileSync(path);
  const out: Buffer[] = [];
  for (let at = f.readUInt32LE(4); at < f.length; ) {
    const type = f.readUInt32LE(at);
    const length = f.readUInt32LE(at + 4);
    if (type === 6) out.push(f.subarray(at + 28, at + 28 + f.readUInt32LE(at + 20)));
    at += length;
  }
  return out;
}
const ipv4 = (p: Buffer) => ({ protocol: p[9], src: [...p.subarray(12, 16)].join('.'), dst: [...p.subarray(16, 20)].join('.'), payload: p.subarray((p[0]! & 0x0f) * 4) });
const esp = (seq: number) => Uint8Array.from([0, 0, 0x10, 0x01, 0, 0, 0, seq, ...new Array(24).fill(0xab)]);

describe('capture to pcapng', () => {
  for (const rawEsp of [false, true]) {
    it(`${rawEsp ? 'raw ESP: IP protocol 50' : 'ESP in UDP: UDP 4500'}, both directions, the bytes as they were, stopping after maxPackets`, async () => {
      const [a, b] = memoryBindPair();
      const tapped = tappedBind(a);
      tapped.onReceive(() => {});
      const path = join(mkdtempSync(join(tmpdir(), 'ipsec-es-capture-')), 'wire.pcapng');
      const capture = startCapture(tapped, path, { maxPackets: 3, rawEsp });
      tapped.send([{ data: esp(1), address: b.localAddress, port: b.localPort }]);
      b.send([{ data: esp(2), address: a.localAddress, port: a.localPort }]);
      await new Promise((r) => setTimeout(r, 20));
      tapped.send([{ data: esp(3), address: b.localAddress, port: b.localPort }, { data: esp(4), address: b.localAddress, port: b.localPort }]);
      expect(await capture.stop()).toEqual({ path, packets: 3 });
      const got = packetsOf(path).map(ipv4);
      expect(got.map((p) => [p.src, p.dst])).toEqual([[a.localAddress, b.localAddress], [b.localAddress, a.localAddress], [a.localAddress, b.localAddress]]);
      expect(got.map((p) => p.protocol)).toEqual(Array(3).fill(rawEsp ? 50 : 17));
      // The ESP bytes themselves, after the UDP header when there is one.
      expect(got.map((p) => [...(rawEsp ? p.payload : p.payload.subarray(8))])).toEqual([1, 2, 3].map((n) => [...esp(n)]));
      if (!rawEsp) expect(got.map((p) => [p.payload.readUInt16BE(0), p.payload.readUInt16BE(2)])).toEqual([[a.localPort, b.localPort], [b.localPort, a.localPort], [a.localPort, b.localPort]]);
      await Promise.all([a.close(), b.close()]);
    });
  }
});
