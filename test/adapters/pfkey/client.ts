/**
 * A PF_KEY client in its own process (run with `node --import tsx client.ts <socket> <scenario>`):
 * it encodes requests with our codec, writes them to the Unix socket, and prints each reply it
 * reads as one JSON line (bigints as "123n", octets as hex) for the test to check.
 *
 * Scenarios:
 * - `sequence`: GETSPI (A), GETSPI (B), UPDATE A, GET A, DELETE A, DUMP (→ B only, seq 0).
 * - `malformed`: a well-framed message with a duplicated extension (→ error reply), then a
 *   header with sadb_msg_len 0 (→ the server closes the connection).
 */

import { connect } from 'node:net';
import { PfKeyFrameReader } from '../../../adapters/pfkey/frameReader.js';
import { IPSEC_MODE, SADB_EALG, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';

const [path, scenario] = process.argv.slice(2);
const socket = connect(path!);
const reader = new PfKeyFrameReader();
const inbox: PfKeyMessage[] = [];
const waiting: ((m: PfKeyMessage) => void)[] = [];
let closed = false;
const onClose: (() => void)[] = [];

socket.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(new Uint8Array(chunk)).frames) {
    const r = decodePfKey(frame);
    if (!r.ok) throw new Error(`reply did not decode: ${r.error.message}`);
    const w = waiting.shift();
    if (w) w(r.msg);
    else inbox.push(r.msg);
  }
});
socket.on('close', () => {
  closed = true;
  for (const f of onClose) f();
});

const next = (): Promise<PfKeyMessage> =>
  new Promise((resolve, reject) => {
    const m = inbox.shift();
    if (m) return resolve(m);
    waiting.push(resolve);
    setTimeout(() => reject(new Error('no reply within 5 s')), 5000).unref();
  });
const print = (m: unknown) =>
  process.stdout.write(
    JSON.stringify(m, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
    ) + '\n',
  );
const send = (m: PfKeyMessage) => socket.write(encodePfKey(m));
const request = async (m: PfKeyMessage) => {
  send(m);
  const r = await next();
  print(r);
  return r;
};

const addrs = {
  addressSrc: { proto: 255, prefixlen: 32, addr: inet([192, 0, 2, 1]) },
  addressDst: { proto: 255, prefixlen: 32, addr: inet([198, 51, 100, 7]) },
};
const base = { satype: SADB_SATYPE.ESP, errno: 0, pid: process.pid };

async function sequence(): Promise<void> {
  const getspi = (seq: number): PfKeyMessage => ({
    ...base, type: 'GETSPI', seq,
    ext: { sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 1 }, ...addrs, spiRange: { min: 0x10000, max: 0x1ffff } },
  });
  const a = await request(getspi(1));
  await request(getspi(2));
  const spi = a.type === 'GETSPI' ? a.ext.sa!.spi : 0;
  const sa = { spi, replay: 32, state: 1, auth: 0, encrypt: SADB_EALG.X_AES_GCM_ICV16, flags: 0 };
  await request({
    ...base, type: 'UPDATE', seq: 3,
    ext: {
      sa, ...addrs,
      lifetimeHard: { allocations: 0, bytes: 0n, addtime: 3600n, usetime: 0n },
      lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 3000n, usetime: 0n },
      keyEncrypt: { bits: 288, key: Uint8Array.from({ length: 36 }, (_, i) => i) },
      sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 1 },
    },
  });
  await request({ ...base, type: 'GET', seq: 4, ext: { sa, ...addrs } });
  await request({ ...base, type: 'DELETE', seq: 5, ext: { sa, ...addrs } });
  send({ ...base, satype: SADB_SATYPE.UNSPEC, type: 'DUMP', seq: 6, ext: {} });
  for (;;) {
    const r = await next();
    print(r);
    if (r.seq === 0 || r.errno !== 0) break;
  }
}

async function malformed(): Promise<void> {
  const good = encodePfKey({ ...base, type: 'GET', seq: 7, ext: { sa: { spi: 0x1234, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 }, ...addrs } });
  const dup = new Uint8Array(good.length + 16);
  dup.set(good);
  dup.set(good.subarray(16, 32), good.length); // the SA extension again
  new DataView(dup.buffer).setUint16(4, dup.length / 8, true);
  socket.write(dup);
  print(await next());
  const badFrame = new Uint8Array(16);
  badFrame[0] = 2; // version, but sadb_msg_len 0
  socket.write(badFrame);
  await new Promise<void>((resolve) => (closed ? resolve() : onClose.push(resolve)));
  print({ closed: true });
}

(scenario === 'malformed' ? malformed() : sequence())
  .then(() => {
    socket.end();
    process.exitCode = 0;
  })
  .catch((e: unknown) => {
    process.stderr.write(String(e) + '\n');
    process.exit(1);
  });
