import { mkdtempSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlRequest, serveControl } from '../../cli/control.js';

describe('control socket', () => {
  it('answers JSON lines; unknown commands, bad JSON and failing handlers are errors in the reply, never a crash', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ipsec-es-ctl-')), 'c.sock');
    const server = await serveControl(path, { status: () => ({ sas: 2 }), boom: () => { throw new Error('handler failed'); } });
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await controlRequest(path, { cmd: 'status' })).toEqual({ ok: true, sas: 2 });
      expect(await controlRequest(path, { cmd: 'nope' })).toMatchObject({ ok: false, error: expect.stringContaining('known: status, boom') });
      expect(await controlRequest(path, { cmd: 'boom' })).toEqual({ ok: false, error: 'handler failed' });
      const raw = await new Promise<string>((resolve) => {
        const s = createConnection(path, () => s.write('{not json\n'));
        s.on('data', (d) => { resolve(d.toString()); s.end(); });
      });
      expect(JSON.parse(raw)).toEqual({ ok: false, error: 'not JSON' });
      expect(await controlRequest(path, { cmd: 'status' })).toEqual({ ok: true, sas: 2 });
    } finally {
      server.close();
    }
    await expect(controlRequest(path, { cmd: 'status' }, 1000)).rejects.toThrow(/control socket/);
  });
});
