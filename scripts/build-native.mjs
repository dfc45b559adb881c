#!/usr/bin/env node
/**
 * Builds the TUN addon (native/tun → native/tun/build/Release/ipsec_es_tun.node: the TUN device,
 * batched UDP and raw ESP sockets) with node-gyp against Node's own headers: nothing is
 * downloaded. Run by `npm install` / `npm ci` (the "install" script) and by `npm run build:native`.
 *
 * It never fails an install: without Linux, a compiler, node-gyp or Node's headers it prints one
 * line saying the TUN adapter is unavailable and why, and exits 0; `openLinuxTun()` then throws
 * `tun.unavailable` naming the same fix. `--strict` (for CI) exits 1 instead.
 *
 * Usage: node scripts/build-native.mjs [--strict]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = join(root, 'native', 'tun');
const logFile = join(addonDir, 'build', 'build.log');

function unavailable(why) {
  console.log(`ipsec-es: TUN adapter, batched UDP and raw ESP unavailable (${why}); everything else works without them (UDP falls back to node:dgram)`);
  process.exit(strict ? 1 : 0);
}

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

if (process.platform !== 'linux') unavailable(`TUN needs Linux, this is ${process.platform}`);
const nodeGyp = findNodeGyp();
if (!nodeGyp) unavailable('node-gyp not found: it ships with npm');
const nodeDir = findNodeDir();
if (!nodeDir) unavailable("Node's headers not found: set npm_config_nodedir to the prefix holding include/node/node_api.h");
const missing = ['make', 'cc', 'python3'].filter((c) => !has(c));
if (missing.length > 0) unavailable(`missing ${missing.join(', ')}: install make, gcc and python3 (Debian: apt-get install build-essential python3)`);

const run = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`], {
  cwd: addonDir,
  encoding: 'utf8',
  env: { ...process.env, npm_config_nodedir: nodeDir },
});
const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
mkdirSync(dirname(logFile), { recursive: true });
writeFileSync(logFile, output);
if (run.status !== 0) {
  const firstError = output.split('\n').find((l) => /error/i.test(l) && !/^gyp (info|http)/.test(l)) ?? `node-gyp exited ${run.status ?? run.signal}`;
  unavailable(`build failed: ${firstError.trim()} — full log in ${logFile}`);
}
console.log('ipsec-es: native addon built: TUN, batched UDP and raw ESP (native/tun/build/Release/ipsec_es_tun.node)');
