/**
 * What only the twin has: simulated loss (repeatable with a seeded Random) and latency (on any
 * timer, a simulated clock's included), and its own misuse checks.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../adapters/random/random.js';
import { memoryBindPair } from '../../../adapters/udp/memoryBind.js';
import { collect, settle, until } from './helpers.js';

describe('memoryBindPair', () => {
  it('loses about `loss` of the datagrams, the same ones for the same seed, and says how many', async () => {
    const run = async () => {
      const [a, b] = memoryBindPair({ loss: 0.3, random: seededRandom(11) });
      const got = collect(b);
      a.send(Array.from({ length: 1000 }, (_, i) => ({ data: Uint8Array.of(i & 0xff, i >> 8), address: b.localAddress, port: b.localPort })));
      await until(() => got.length === 1000 - a.simulated.lost, 'the survivors');
      expect(a.counters.sent).toBe(1000);
      return got.map((d) => d.data[0]! | (d.data[1]! << 8));
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(600);
    expect(first.length).toBeLessThan(800);
    expect(await run()).toEqual(first);
  });

  it('delivers after `latencyMs` on the timer it is given', async () => {
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const [a, b] = memoryBindPair({ latencyMs: 40, setTimeout: (fn, ms) => timers.push({ fn, ms }) });
    const got = collect(b);
    a.send([{ data: Uint8Array.of(1), address: b.localAddress, port: b.localPort }]);
    await settle(10);
    expect(got.length).toBe(0);
    expect(timers.map((t) => t.ms)).toEqual([40]);
    timers[0]!.fn();
    await until(() => got.length === 1, 'the delayed datagram');
  });

  it('a wildcard bind receives at any address of its family; to nobody is unrouted', async () => {
    const [a, b] = memoryBindPair({ b: { address: '0.0.0.0', port: 4500 } });
    const got = collect(b);
    a.send([{ data: Uint8Array.of(1), address: '192.0.2.77', port: 4500 }, { data: Uint8Array.of(2), address: '192.0.2.77', port: 4501 }]);
    await until(() => got.length === 1, 'the wildcard delivery');
    expect(a.simulated.unrouted).toBe(1);
  });

  it('misuse names the option', () => {
    expect(() => memoryBindPair({ loss: 2 })).toThrow(/^loss:/);
    expect(() => memoryBindPair({ latencyMs: -1 })).toThrow(/^latencyMs:/);
    expect(() => memoryBindPair({ a: { address: 'x' } })).toThrow(/^a\.address:/);
    expect(() => memoryBindPair({ b: { port: 0 } })).toThrow(/^b\.port:/);
    expect(() => memoryBindPair({ b: { address: '192.0.2.1' } })).toThrow(/^b:/);
  });
});
