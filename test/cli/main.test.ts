import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

describe('the ipsec-es command', () => {
  it('--help documents the gateway command and exits 0', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const flag of ['--config', '--store', '--tun', '--route', '--offload', '--control', 'SIGHUP', 'Exit codes']) expect(r.stdout).toContain(flag);
    expect(cli('gateway', '--help').status).toBe(0);
  });

  it('bad arguments and configuration exit 2 with a message that says what is wrong', () => {
    expect(cli('frobnicate')).toMatchObject({ status: 2, stderr: expect.stringContaining("unknown command 'frobnicate'") });
    expect(cli('gateway', '--store', '/tmp/x')).toMatchObject({ status: 2, stderr: expect.stringContaining('--config and --store are required') });
    expect(cli('gateway', '--config', 'x.xml', '--store', '/tmp/x', '--mtu', '12')).toMatchObject({ status: 2, stderr: expect.stringContaining('--mtu') });
    expect(cli('gateway', '--config', 'x.xml', '--store', '/tmp/x', '--offload', 'real')).toMatchObject({ status: 2, stderr: expect.stringContaining('--offload') });
    const missing = cli('gateway', '--config', '/nonexistent/policy.xml', '--store', '/tmp/ipsec-es-cli-test');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/policy.xml');
  });
});
