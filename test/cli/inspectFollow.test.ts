/**
 * `ipsec-es inspect --follow` on a log that is still being written: it replays what is there,
 * then shows the facts a running gateway appends (here, an operator's delete of an SA), reading
 * only what came since; SIGINT ends it cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import { gatewayPair, udpPacket, wireAtoB } from '../../examples/shared/pair.js';
import { ROOT } from './cliRunner.js';

describe('inspect --follow', () => {
  it('replays the log, then shows what a live gateway appends to it, until SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-follow-'));
    const storeA = await fileLogEventStore({ directory: join(dir, 'log') });
    const { a, b } = await gatewayPair(storeA, memoryEventStore());
    const { toB, delivered, close } = wireAtoB(a, b);
    let inspector: ReturnType<typeof spawn> | undefined;
    try {
      toB([udpPacket('10.1.0.5', '10.2.0.7', 1)]);
      for (let i = 0; i < 250 && delivered.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      await a.settled();
      const outbound = a.saIds().find((id) => a.state(id)?.params?.direction === 'outbound')!;
      expect(a.state(outbound)?.status).toBe('mature');

      inspector = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'inspect', dir, '--follow', '--rate', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: Array<Record<string, unknown>> = [];
      let buffered = '';
      inspector.stdout!.on('data', (c: Buffer) => {
        buffered += c.toString();
        for (const l of buffered.split('\n').slice(0, -1)) lines.push(JSON.parse(l) as Record<string, unknown>);
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(ok(), what).toBe(true);
      };
      await until('the follow line', () => lines.some((l) => l.event === 'following'));
      const url = String(lines.find((l) => l.event === 'inspecting')!.url);
      expect(lines.find((l) => l.event === 'following')).toMatchObject({ sas: 2 });

      // The page's event stream: everything so far, then what comes.
      let stream = '';
      const req = get(`${url}events`, (res) => res.on('data', (c: Buffer) => (stream += c.toString())));
      await until('the replayed SAs on the stream', () => stream.includes(`sa-${outbound}`));
      expect(stream).not.toContain('"type":"SaDeleted"');

      // The gateway goes on writing: an operator deletes the outbound SA.
      a.deleteSa(outbound, 'operator');
      await a.settled();
      await until('the delete on the stream', () => stream.includes('"type":"SaDeleted"'));
      const dead = stream.split('\n').filter((l) => l.includes(`sa-${outbound}`) && l.includes('"status":"dead"'));
      expect(dead.length).toBeGreaterThan(0);
      req.destroy();

      const exited = new Promise<number | null>((r) => inspector!.once('close', r));
      inspector.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(lines.find((l) => l.event === 'replayed')).toMatchObject({ sas: 2 });
    } finally {
      inspector?.kill('SIGKILL');
      close();
      a.stop();
      b.stop();
      await storeA.close();
    }
  }, 60_000);
});
