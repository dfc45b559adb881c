import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

describe('the ipsec-es command', () => {
  it('--help lists every command and the exit codes; each command has --help (exit 0) documenting its flags', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name} `);
    expect(r.stdout).toContain('Exit codes');
    const g = cli('gateway', '--help');
    expect(g.status).toBe(0);
    for (const flag of ['--config', '--store', '--tun', '--route', '--offload', '--control', '--kek', '--metrics', 'SIGHUP']) expect(g.stdout).toContain(flag);
    // Every flag a command parses is in its help text.
    for (const c of COMMANDS) for (const flag of Object.keys(c.options)) expect(c.help, `${c.name} --${flag}`).toContain(`--${flag}`);
  });

  it('bad arguments and configuration exit 2 with one line that says what is wrong, no stack trace', () => {
    for (const [args, text] of [
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['gateway', '--store', '/tmp/x'], '--config and --store are required'],
      [['gateway', '--config', 'x.xml', '--store', '/tmp/x', '--mtu', '12'], '--mtu'],
      [['gateway', '--config', 'x.xml', '--store', '/tmp/x', '--offload', 'real'], '--offload'],
      [['gateway', '--config', 'x.xml', '--store', '/tmp/x', '--metrics', 'nope'], '--metrics'],
      [['list-sas', '--bogus'], "Unknown option '--bogus'"],
      [['replay'], 'missing <store>'],
      [['replay', '/tmp', '--until', 'yesterday-ish'], '--until must be'],
      [['timeline', '/tmp'], '--sa <id> is required'],
      [['export-wireshark', '/tmp'], '--kek <ref>'],
      [['terminate', '--store', '/tmp'], 'give --sa <id> or --ike <id>'],
    ] as const) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(text);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const missing = cli('gateway', '--config', '/nonexistent/policy.xml', '--store', '/tmp/ipsec-es-cli-test');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/policy.xml');
  });

  it('a missing store exits 4, a gateway that is not there exits 3; --debug adds the stack', () => {
    const store = cli('replay', '/nonexistent/store');
    expect(store).toMatchObject({ status: 4, stderr: expect.stringContaining('no store at /nonexistent/store') });
    expect(store.stderr).not.toContain('    at ');
    const gone = cli('list-sas', '--store', '/nonexistent/store');
    expect(gone).toMatchObject({ status: 3, stderr: expect.stringContaining('no gateway is running there') });
    expect(cli('stats', '--control', '/nonexistent/c.sock', '--debug').stderr).toContain('    at ');
    expect(cli('list-sas').stderr).toContain('which gateway?');
  });
});
