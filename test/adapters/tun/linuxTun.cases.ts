/**
 * The real device's harness and the cases only a real device can run (ping, idle CPU). Used by
 * linuxTun.netns.ts, the child that runs inside a fresh network namespace; importing this module
 * opens nothing.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLinuxTun, type TunDevice } from '../../../adapters/tun/index.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { writeU16 } from '../../../engine/bytes.js';
import { CaseSkipped, HOST, HOST_PORT, MTU, PEER, PEER_PORT, type TunContractCase, type TunHarness } from './tun.contract.js';

let nextDevice = 0;

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000 }, (error, _out, stderr) => {
      if (error === null) return resolve();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return reject(new CaseSkipped(`${file} is not installed`));
      reject(new Error(`${file} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
    });
  });
}

/** The host side is this namespace's kernel: a UDP socket on HOST:HOST_PORT, a packet socket for raw frames. */
export function linuxHarness(notes: Map<string, number | string>): TunHarness {
  const devices: TunDevice[] = [];
  const inbox: Uint8Array[] = [];
  let socket: dgram.Socket | undefined;
  return {
    async open(options) {
      const tun = await openLinuxTun({ name: `estun${nextDevice++}`, mtu: MTU, addresses: [`${HOST}/24`], ...options });
      devices.push(tun);
      socket?.close();
      const s = dgram.createSocket('udp4');
      socket = s;
      s.on('message', (m) => inbox.push(new Uint8Array(m)));
      await new Promise<void>((resolve, reject) => s.once('error', reject).bind(HOST_PORT, HOST, resolve));
      return tun;
    },
    async hostSendUdp(payloads) {
      const s = socket as dgram.Socket;
      await Promise.all(payloads.map((p) => new Promise<void>((resolve, reject) => s.send(p, PEER_PORT, PEER, (e) => (e ? reject(e) : resolve())))));
    },
    async hostReceiveUdp(count, timeoutMs = 5000) {
      for (const deadline = Date.now() + timeoutMs; inbox.length < count && Date.now() < deadline; ) await sleep(5);
      if (inbox.length < count) throw new Error(`hostReceiveUdp: ${inbox.length} of ${count}`);
      return inbox.splice(0, count);
    },
    async hostSendRaw(frame) {
      // An AF_PACKET socket hands bytes to the device as they are: how the kernel can route a
      // non-IP frame into a TUN device. python3 is there wherever node-gyp could build the addon.
      const script = 'import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_DGRAM)\ns.sendto(bytes.fromhex(sys.argv[2]),(sys.argv[1],0x0800))';
      await run('python3', ['-c', script, (devices.at(-1) as TunDevice).name, Buffer.from(frame).toString('hex')]);
    },
    async removeDevice(device) {
      await run('ip', ['link', 'delete', device.name]);
    },
    note(key, value) {
      notes.set(key, value);
    },
    async dispose() {
      socket?.close();
      await Promise.all(devices.map((d) => d.close()));
    },
  };
}

/** An ICMP echo reply (RFC 792) to an IPv4 echo request, or undefined if it is not one. */
export function echoReply(request: Uint8Array): Uint8Array | undefined {
  const ihl = ((request[0] ?? 0) & 0x0f) * 4;
  if (request[0] === undefined || request[0] >> 4 !== 4 || request[9] !== 1 || request[ihl] !== 8) return undefined;
  const reply = request.slice();
  reply.set(request.subarray(16, 20), 12);
  reply.set(request.subarray(12, 16), 16);
  writeU16(reply, 10, 0);
  writeU16(reply, 10, internetChecksum(reply, 0, ihl));
  reply[ihl] = 0; // type 0: echo reply; same identifier, sequence and data
  writeU16(reply, ihl + 2, 0);
  writeU16(reply, ihl + 2, internetChecksum(reply, ihl, reply.length));
  return reply;
}

function exec(file: string, args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ code: (e as NodeJS.ErrnoException).code === 'ENOENT' ? -2 : -1, out: String(e) }));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Cases a real device runs besides the contract. */
export const linuxOnlyCases: TunContractCase[] = [
  {
    name: 'routes: a datagram to a prefix routed through the device is read from it; a route that fails closes the device',
    async run() {
      const name = `estun${nextDevice++}`;
      const tun = await openLinuxTun({ name, addresses: [`${HOST}/24`], routes: ['10.98.0.0/24'] });
      try {
        const got = new Promise<Uint8Array>((resolve) => {
          const stop = tun.read((batch) => {
            const p = batch.find((q) => q[16] === 10 && q[17] === 98);
            if (p) (stop(), resolve(p.slice()));
          });
        });
        const s = dgram.createSocket('udp4');
        await new Promise<void>((resolve, reject) => s.send(new Uint8Array([1]), PEER_PORT, '10.98.0.5', (e) => (s.close(), e ? reject(e) : resolve())));
        assert.deepEqual(Array.from((await got).subarray(16, 20)), [10, 98, 0, 5]);
      } finally {
        await tun.close();
      }
      const failed = await openLinuxTun({ name, routes: ['10.97.0.0/24', '10.97.0.0/24'] }).catch((e: unknown) => e as Error & { code?: string });
      assert.ok(failed instanceof Error && failed.code === 'tun.config', String(failed));
      assert.match(failed.message, /ip route add 10\.97\.0\.0\/24 dev estun\d+: .*exists/i);
      // closed again: the name is free
      const again = await openLinuxTun({ name });
      await again.close();
    },
  },
  {
    name: 'ping PEER through the device: the kernel’s echo requests are read, our replies written, 0% loss',
    async run(h) {
      const tun = await h.open();
      let requests = 0;
      const stop = tun.read((batch) => {
        const replies = batch.map(echoReply).filter((r): r is Uint8Array => r !== undefined);
        requests += replies.length;
        tun.write(replies);
      });
      const ping = await exec('ping', ['-n', '-c', '5', '-i', '0.2', '-W', '2', PEER]);
      stop();
      if (ping.code === -2) throw new CaseSkipped('ping is not installed (Debian: iputils-ping)');
      assert.equal(ping.code, 0, ping.out);
      assert.match(ping.out, / 0% packet loss/);
      assert.equal(requests, 5);
      assert.equal(tun.stats().txPackets, 5);
    },
  },
  {
    name: 'idle: a device being read costs no CPU (< 50 ms of process CPU time over 1 s)',
    async run(h) {
      const tun = await h.open();
      const stop = tun.read(() => {});
      await sleep(200); // let start-up settle
      const before = process.cpuUsage();
      await sleep(1000);
      const used = process.cpuUsage(before);
      stop();
      const ms = (used.user + used.system) / 1000;
      h.note('idle CPU ms per 1 s', +ms.toFixed(2));
      assert.ok(ms < 50, `${ms} ms of CPU in 1 s idle: a busy loop?`);
    },
  },
];
