/**
 * GSO writes to the TUN device (native/tun/coalesce.c) against the packets themselves: a child
 * in a fresh namespace writes a batch into one TUN device, the namespace forwards it into a
 * second one that offers no offloads (so the kernel segments every GSO packet first), and the
 * child reads what comes out (gso.netns.ts). Every packet must arrive exactly as written (but
 * for the TTL forwarding lowers and the header checksum that follows it), in order, none added,
 * none lost — runs coalesced into GSO writes included, and the packets that must not be (a bad
 * checksum, IDs not one apart, other TOS/TTL/DF, TCP with PSH in the middle, FIN, a gap).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eUnavailable } from '../../e2e/topology.js';

const root = resolve(import.meta.dirname, '../../..');
const why = e2eUnavailable();

/** The packet as forwarding leaves it: TTL one lower, the header checksum recomputed. */
function forwarded(hex: string): string {
  const p = Buffer.from(hex, 'hex');
  p[8] = p[8]! - 1;
  p.writeUInt16BE(0, 10);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += p.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 10);
  return p.toString('hex');
}

describe.skipIf(why !== undefined)(`TUN GSO writes${why ? ` (skipped: ${why})` : ''}`, () => {
  it('every packet arrives as written, in order, with runs coalesced into GSO writes and the rest alone', async () => {
    const ns = `ipsec-es-gso-${randomBytes(3).toString('hex')}`;
    try {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/adapters/tun/gso.netns.ts'], { cwd: root, timeout: 60_000 }).toString();
      const line = out.split('\n').find((l) => l.startsWith('GSOCHILD '));
      expect(line, out).toBeDefined();
      const child = JSON.parse(line!.slice(9)) as { count: number; written: string[]; got: string[]; fuzzed: number; stats: { txPackets: number; gso?: { writes: number; packets: number } } };
      expect(child.fuzzed).toBe(60 * 64); // and the child lived through them
      expect(child.count).toBe(child.written.length);
      expect(child.got).toEqual(child.written.map(forwarded));
      // The runs went as GSO writes: the UDP run of 10, the one ending short, the TCP run of 8, ...
      expect(child.stats.gso).toBeDefined();
      expect(child.stats.gso!.writes).toBeGreaterThanOrEqual(4);
      expect(child.stats.gso!.packets).toBeGreaterThanOrEqual(10 + 5 + 8);
      console.log(`[tun gso] ${child.written.length} packets in ${child.stats.gso!.writes} GSO writes (${child.stats.gso!.packets} packets) and ${child.written.length - child.stats.gso!.packets} single writes`);
    } finally {
      try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
    }
  }, 90_000);
});
