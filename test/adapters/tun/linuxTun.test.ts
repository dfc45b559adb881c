/**
 * The real Linux TUN device. The contract and the Linux-only cases (ping, idle CPU) run in a
 * child process inside a fresh network namespace `ipsec-es-tun-<pid>-<random>` (removed
 * afterwards, also on failure), so no traffic leaves it; each case shows up here as a test.
 * Start-up errors (no /dev/net/tun, no root, bad options) are checked from this process: none of
 * them creates a device.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLinuxTun, TUN_ADDON_PATH } from '../../../adapters/tun/index.js';
import { IpsecError } from '../../../engine/errors.js';
import { linuxOnlyCases } from './linuxTun.cases.js';
import { tunContractCases } from './tun.contract.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const addonBuilt = existsSync(resolve(root, TUN_ADDON_PATH));
const isRoot = process.getuid?.() === 0;

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the namespace suite cannot run here, or undefined. CI runs as root with everything. */
function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `TUN devices need Linux, this is ${process.platform}`;
  if (!isRoot) return 'needs root (a network namespace and a TUN device); CI runs as root';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun on this machine (modprobe tun)';
  if (!addonBuilt) return `the addon is not built (${TUN_ADDON_PATH}): npm run build:native`;
  if (!hasCommand('ip')) return 'the ip command (iproute2) is missing';
  return undefined;
}

interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  skipped?: string;
}

function runChild(file: string, args: readonly string[], options: { uid?: number; gid?: number; timeoutMs: number }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], uid: options.uid, gid: options.gid });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => (out += String(e)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, out });
    });
  });
}

const skip = netnsSkipReason();
const caseNames = [...tunContractCases, ...linuxOnlyCases].map((c) => c.name);

describe.skipIf(skip)(`openLinuxTun in a fresh network namespace${skip ? ` — skipped: ${skip}` : ''}`, () => {
  const namespace = `ipsec-es-tun-${process.pid}-${randomBytes(3).toString('hex')}`;
  const results = new Map<string, CaseResult>();
  let notes: Record<string, unknown> = {};
  let childOutput = '';

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', namespace]);
    try {
      execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      // No IPv6 router solicitations or MLD reports on the devices: only the test's own packets.
      execFileSync('ip', ['netns', 'exec', namespace, 'sh', '-c', 'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 > "$f"; done 2>/dev/null || true']);
      const child = await runChild('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', 'test/adapters/tun/linuxTun.netns.ts'], { timeoutMs: 120_000 });
      childOutput = child.out;
      for (const line of child.out.split('\n')) {
        if (line.startsWith('TUNCASE ')) {
          const r = JSON.parse(line.slice(8)) as CaseResult;
          results.set(r.name, r);
        } else if (line.startsWith('TUNNOTES ')) notes = JSON.parse(line.slice(9)) as Record<string, unknown>;
      }
    } finally {
      execFileSync('ip', ['netns', 'delete', namespace]);
    }
  }, 150_000);

  for (const name of caseNames) {
    it(name, (ctx) => {
      const r = results.get(name);
      if (r === undefined) throw new Error(`the case did not run; the child printed:\n${childOutput.slice(-4000)}`);
      if (r.skipped !== undefined) ctx.skip(r.skipped);
      if (!r.ok) throw new Error(r.error);
    });
  }

  it('reports packets per batch and idle CPU', () => {
    console.log(`[linuxTun] ${JSON.stringify(notes)}`);
    expect(Object.keys(notes).length).toBeGreaterThan(0);
  });

  afterAll(() => {
    // The namespace is gone whatever happened above; say so if something left it behind.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(left).not.toContain(namespace);
  });
});

describe('openLinuxTun start-up errors say what is needed', () => {
  it('bad options are RangeErrors naming the option', async () => {
    await expect(openLinuxTun({ name: 'a-name-longer-than-15' })).rejects.toThrow(/options\.name/);
    await expect(openLinuxTun({ name: 'a b' })).rejects.toThrow(RangeError);
    await expect(openLinuxTun({ mtu: 20 })).rejects.toThrow(/options\.mtu.*\[68, 65535\]/);
    await expect(openLinuxTun({ batchSize: 0 })).rejects.toThrow(/options\.batchSize/);
    await expect(openLinuxTun({ maxPacketBytes: 1.5 })).rejects.toThrow(/options\.maxPacketBytes/);
    await expect(openLinuxTun({ addresses: ['10.0.0.1'] })).rejects.toThrow(/options\.addresses\[0\].*CIDR/);
    await expect(openLinuxTun({ routes: ['10.0.0.0/8', 'default; rm -rf /'] })).rejects.toThrow(/options\.routes\[1\]/);
  });

  it.skipIf(!addonBuilt)(`a missing /dev/net/tun: tun.unavailable naming the device and the driver${addonBuilt ? '' : ' — skipped: addon not built'}`, async () => {
    const error = await openLinuxTun({ devicePath: '/nonexistent/net/tun' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpsecError);
    expect((error as IpsecError).code).toBe('tun.unavailable');
    expect((error as Error).message).toMatch(/cannot open \/nonexistent\/net\/tun: open: ENOENT \(No such file or directory\)/);
    expect((error as Error).message).toMatch(/modprobe tun/);
    expect((error as Error).message).toMatch(/--device \/dev\/net\/tun/);
  });

  const canTryUnprivileged = addonBuilt && existsSync('/dev/net/tun');
  it.skipIf(!canTryUnprivileged)(`not root: tun.permission naming root or CAP_NET_ADMIN${canTryUnprivileged ? '' : ' — skipped: addon not built or no /dev/net/tun'}`, async () => {
    let result: { ok: boolean; code?: string; message?: string };
    if (isRoot) {
      // As nobody (65534): no capability, so neither open(2) of /dev/net/tun nor TUNSETIFF may succeed.
      const child = await runChild(process.execPath, ['--import', 'tsx', 'test/adapters/tun/openTun.child.ts', '{"name":"estunperm0"}'], { uid: 65534, gid: 65534, timeoutMs: 60_000 });
      const line = child.out.split('\n').find((l) => l.startsWith('OPENRESULT '));
      expect(line, child.out).toBeDefined();
      result = JSON.parse((line as string).slice(11)) as typeof result;
    } else {
      result = await openLinuxTun({ name: 'estunperm0' }).then(
        async (tun) => (await tun.close(), { ok: true }),
        (e: IpsecError) => ({ ok: false, code: e.code, message: e.message }),
      );
    }
    expect(result.ok).toBe(false);
    expect(result.code).toBe('tun.permission');
    expect(result.message).toMatch(/(EACCES|EPERM)/);
    expect(result.message).toMatch(/needs root or CAP_NET_ADMIN/);
  });

  it.skipIf(!(canTryUnprivileged && isRoot))(`not root, with a device node anyone may open: TUNSETIFF's EPERM names the same need${canTryUnprivileged && isRoot ? '' : ' — skipped: needs root to make the node'}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-tun-'));
    try {
      const node = join(dir, 'tun');
      execFileSync('cp', ['-a', '/dev/net/tun', node]); // the same character device (10, 200)
      chmodSync(node, 0o666);
      chmodSync(dir, 0o755);
      const child = await runChild(process.execPath, ['--import', 'tsx', 'test/adapters/tun/openTun.child.ts', JSON.stringify({ name: 'estunperm1', devicePath: node })], { uid: 65534, gid: 65534, timeoutMs: 60_000 });
      const line = child.out.split('\n').find((l) => l.startsWith('OPENRESULT '));
      expect(line, child.out).toBeDefined();
      const result = JSON.parse((line as string).slice(11)) as { ok: boolean; code?: string; message?: string };
      expect(result.ok).toBe(false);
      expect(result.code).toBe('tun.permission');
      // EPERM from TUNSETIFF where the file system allows device nodes; EACCES from open(2) where it is nodev.
      expect(result.message).toMatch(/ioctl\(TUNSETIFF\): EPERM|open: EACCES/);
      expect(result.message).toMatch(/needs root or CAP_NET_ADMIN/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
