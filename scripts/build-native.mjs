#!/usr/bin/env node
/**
 * Builds the two native addons with node-gyp against Node's own headers (nothing is downloaded),
 * each independently:
 *   - native/tun → native/tun/build/Release/ipsec_es_tun.node: the TUN device, batched UDP and
 *     raw ESP sockets (Linux only);
 *   - native/crypto → native/crypto/build/Release/ipsec_es_crypto.node: the ESP crypto fast path
 *     over the OpenSSL Node links (its symbols come from the node binary; Node's headers ship
 *     OpenSSL's), the `native` crypto back end.
 * Run by `npm install` / `npm ci` (the "install" script) and by `npm run build:native`.
 *
 * It never fails an install: for each addon it cannot build (no Linux for TUN, no compiler,
 * node-gyp or Node's headers) it prints one line saying what is unavailable and why, and goes
 * on; `openLinuxTun()` then throws `tun.unavailable`, and the `native` crypto back end reports
 * `nativeCryptoStatus()` unavailable (the `node` back end does the same work). `--strict` (for
 * CI) exits 1 when either addon failed to build on Linux.
 *
 * Usage: node scripts/build-native.mjs [--strict]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const ADDONS = [
  {
    dir: join(root, 'native', 'tun'),
    linuxOnly: true,
    built: 'TUN, batched UDP and raw ESP (native/tun/build/Release/ipsec_es_tun.node)',
    unavailable: (why) => `TUN adapter, batched UDP and raw ESP unavailable (${why}); everything else works without them (UDP falls back to node:dgram)`,
  },
  {
    dir: join(root, 'native', 'crypto'),
    linuxOnly: false,
    built: 'ESP crypto fast path over OpenSSL (native/crypto/build/Release/ipsec_es_crypto.node)',
    unavailable: (why) => `native ESP crypto unavailable (${why}); the node back end does the same work, slower`,
  },
];

/** node-gyp: the one npm runs lifecycle scripts with, else npm's bundled copy next to node. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c));
}

/** Node's headers: npm_config_nodedir if set, else the prefix node runs from (/usr here). */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
  return candidates.find((d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')));
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Why nothing can be built here, or undefined when the tools are all present. */
function toolchainProblem(nodeGyp, nodeDir) {
  if (!nodeGyp) return 'node-gyp not found: it ships with npm';
  if (!nodeDir) return "Node's headers not found: set npm_config_nodedir to the prefix holding include/node/node_api.h";
  const missing = ['make', 'cc', 'python3'].filter((c) => !has(c));
  if (missing.length > 0) return `missing ${missing.join(', ')}: install make, gcc and python3 (Debian: apt-get install build-essential python3)`;
  return undefined;
}

/** Builds one addon; the reason it is unavailable, or undefined once built. */
function build(addon, nodeGyp, nodeDir) {
  const logFile = join(addon.dir, 'build', 'build.log');
  const run = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`], {
    cwd: addon.dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: nodeDir },
  });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, output);
  if (run.status === 0) return undefined;
  const firstError = output.split('\n').find((l) => /error/i.test(l) && !/^gyp (info|http)/.test(l)) ?? `node-gyp exited ${run.status ?? run.signal}`;
  return `build failed: ${firstError.trim()} — full log in ${logFile}`;
}

const nodeGyp = findNodeGyp();
const nodeDir = findNodeDir();
const problem = toolchainProblem(nodeGyp, nodeDir);
let failed = false;
for (const addon of ADDONS) {
  const why =
    addon.linuxOnly && process.platform !== 'linux' ? `it needs Linux, this is ${process.platform}` : (problem ?? build(addon, nodeGyp, nodeDir));
  if (why === undefined) {
    console.log(`ipsec-es: native addon built: ${addon.built}`);
  } else {
    console.log(`ipsec-es: ${addon.unavailable(why)}`);
    if (process.platform === 'linux') failed = true;
  }
}
process.exit(strict && failed ? 1 : 0);
