/**
 * The file log's I/O thread (FORMAT.md §Writing): a worker thread that only writes and syncs
 * what the writer (`groupCommit.ts`) hands it, so the event loop makes no system call per write.
 *
 * Why not libuv's thread pool (`fs.write` with a callback, the `writer: 'pool'` option): each
 * write there costs the event loop a request object, a queue lock and a thread wake-up, and the
 * next write cannot start until the event loop has run the last one's callback, which on a busy
 * loop is late. Here the writer publishes a write (fd, buffer, length, offset) in shared memory
 * and the thread, as soon as the disk is free, takes every write published meanwhile and issues
 * those that continue each other as one `pwritev` (and, for `fdatasync`, one sync): group commit
 * happens at the disk's pace, not the loop's. Acknowledgements go back by message, in order.
 *
 * Buffers are `SharedArrayBuffer`s, so nothing is copied: the writer allocates them with
 * `allocate` and must not touch one between `submit` and its acknowledgement. A buffer is sent
 * to the thread once (a message the thread reads synchronously before the write that first uses
 * it); a buffer marked `once` is forgotten by the thread after its write.
 *
 * The thread's code is a string run with `eval: true`: it then needs no file of its own, which a
 * worker would have to load the same way from TypeScript sources (tsx, vitest) and from `dist/`.
 * It uses nothing but `node:fs` and `node:worker_threads`.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';

/** Published writes the shared queue holds (a power of two); the writer keeps far fewer in flight (`writesInFlight` ≤ 16). */
const SLOTS = 64;
/** Per slot: fd, buffer id, bytes, offset, flags. */
const FIELDS = 5;
const FLAG_FDATASYNC = 1;
const FLAG_ONCE = 2;
/** Control words: [0] writes published (an int32 counter that wraps; slot = counter & (SLOTS - 1)), [1] 1 while the thread sleeps. */
const CONTROL_WORDS = 2;
const DESC_OFFSET = 8;
/** How long the thread spins for the next write before it sleeps, while writes keep coming that fast. */
const SPIN_MS = 0.2;

const THREAD_SOURCE = String.raw`
'use strict';
const fs = require('node:fs');
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { control, port } = workerData;
const MASK = ${SLOTS - 1}, F = ${FIELDS};
const ctl = new Int32Array(control, 0, ${CONTROL_WORDS});
const desc = new Float64Array(control, ${DESC_OFFSET}, ${SLOTS * FIELDS});
const buffers = new Map();
function drain() {
  for (let m; (m = receiveMessageOnPort(port)) !== undefined; ) {
    if (m.message.forget !== undefined) buffers.delete(m.message.forget);
    else buffers.set(m.message.id, Buffer.from(m.message.sab));
  }
}
function buffer(id) {
  let b = buffers.get(id);
  if (b === undefined) {
    drain();
    b = buffers.get(id);
    if (b === undefined) throw new Error('file log writer thread: buffer ' + id + ' was never sent');
  }
  return b;
}
let taken = 0;
// Spin before sleeping only while the writer has come back within the spin window (the log is
// busy): waking a sleeping thread costs about as much as a small write here. A quiet log sleeps.
let spin = false;
run: for (;;) {
  let published = Atomics.load(ctl, 0);
  if (published === taken) {
    const idleSince = performance.now();
    if (spin) {
      const until = idleSince + ${SPIN_MS};
      while ((published = Atomics.load(ctl, 0)) === taken && performance.now() < until);
    }
    if (published === taken) {
      // Asleep: the writer wakes it (Atomics.notify costs the writer a lock, so it asks only then).
      Atomics.store(ctl, 1, 1);
      Atomics.wait(ctl, 0, published);
      Atomics.store(ctl, 1, 0);
    }
    spin = performance.now() - idleSince < ${SPIN_MS};
    continue;
  }
  drain();
  let i = taken;
  try {
    while (i !== published) {
      // A run of writes that continue each other on one file: one pwritev, one sync.
      let s = (i & MASK) * F;
      const fd = desc[s], offset = desc[s + 3], flags = desc[s + 4];
      if (fd === -1) break run; // stop: everything before it is written
      const bufs = [];
      let end = offset, j = i;
      while (j !== published && bufs.length < 256) {
        s = (j & MASK) * F;
        if (desc[s] !== fd || desc[s + 3] !== end || (desc[s + 4] & ${FLAG_FDATASYNC}) !== (flags & ${FLAG_FDATASYNC})) break;
        const id = desc[s + 1], bytes = desc[s + 2];
        bufs.push(buffer(id).subarray(0, bytes));
        if (desc[s + 4] & ${FLAG_ONCE}) buffers.delete(id);
        end += bytes;
        j = (j + 1) | 0;
      }
      for (let at = 0; at < end - offset; ) {
        const n = fs.writevSync(fd, at === 0 ? bufs : [Buffer.concat(bufs).subarray(at)], offset + at);
        if (n === 0) throw Object.assign(new Error('short write: ' + at + ' of ' + (end - offset) + ' bytes'), { code: 'EIO' });
        at += n;
      }
      if (flags & ${FLAG_FDATASYNC}) fs.fdatasyncSync(fd);
      parentPort.postMessage((j - i) | 0);
      i = j;
    }
  } catch (e) {
    parentPort.postMessage({ code: e && e.code, message: String(e && e.message) });
    break;
  }
  taken = published;
}
`;

/** A write the thread failed: its errno code and message (then it stops). */
export interface ThreadWriteError {
  code?: string;
  message: string;
}

export interface WriterThreadHost {
  /** The next `count` submitted writes are durable (acknowledged in submission order). */
  done(count: number): void;
  /** The thread failed (a write's error, or the thread itself died); nothing more is written. */
  failed(error: NodeJS.ErrnoException): void;
}

export class WriterThread {
  private readonly ctl: Int32Array;
  private readonly desc: Float64Array;
  private readonly ids = new WeakMap<ArrayBufferLike, number>();
  private nextId = 1;
  private published = 0;
  private pending = 0;
  private stopping = false;
  private broken = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    host: WriterThreadHost,
  ) {
    this.ctl = new Int32Array(control, 0, CONTROL_WORDS);
    this.desc = new Float64Array(control, DESC_OFFSET, SLOTS * FIELDS);
    worker.unref(); // referenced only while writes are pending, as fs requests would be
    const broke = (e: NodeJS.ErrnoException): void => {
      if (this.broken) return;
      this.broken = true;
      host.failed(e);
    };
    worker.on('message', (m: number | ThreadWriteError) => {
      if (typeof m !== 'number') return broke(Object.assign(new Error(m.message), { code: m.code }));
      this.pending -= m;
      if (this.pending === 0 && !this.stopping) worker.unref();
      host.done(m);
    });
    worker.on('error', (e) => broke(Object.assign(new Error(`the file log's writer thread died: ${e.message}`), { code: 'EWORKER' })));
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        if (!this.stopping) broke(Object.assign(new Error("the file log's writer thread exited"), { code: 'EWORKER' }));
        resolve();
      }),
    );
  }

  /** Starts the thread; resolves once it runs. */
  static async start(host: WriterThreadHost): Promise<WriterThread> {
    const control = new SharedArrayBuffer(DESC_OFFSET + 8 * SLOTS * FIELDS);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { control, port: port2 }, transferList: [port2] });
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new WriterThread(worker, port1, control, host);
  }

  /** A buffer of `bytes` the thread can write without a copy. */
  static allocate(bytes: number): Buffer {
    return Buffer.from(new SharedArrayBuffer(bytes));
  }

  /**
   * Publishes a write of `buf[0, bytes)` at `offset` of `fd`, then an fdatasync if asked (for an
   * O_DSYNC file the write is the sync). `buf` comes from `allocate`; `once`: the thread forgets
   * it after this write, else it keeps it until `forget`.
   */
  submit(fd: number, buf: Buffer, bytes: number, offset: number, fdatasync: boolean, once: boolean): void {
    let id = this.ids.get(buf.buffer);
    if (id === undefined) {
      id = this.nextId++;
      if (!once) this.ids.set(buf.buffer, id);
      this.port.postMessage({ id, sab: buf.buffer }); // queued before the write is published: the thread finds it
    }
    this.publish(fd, id, bytes, offset, (fdatasync ? FLAG_FDATASYNC : 0) | (once ? FLAG_ONCE : 0));
  }

  /** The writer dropped `buf`: the thread lets go of it too. */
  forget(buf: Buffer): void {
    const id = this.ids.get(buf.buffer);
    if (id === undefined) return;
    this.ids.delete(buf.buffer);
    this.port.postMessage({ forget: id });
  }

  private publish(fd: number, id: number, bytes: number, offset: number, flags: number): void {
    if (this.pending >= SLOTS - 1) throw new Error(`file log writer thread: more than ${SLOTS - 1} writes in flight`);
    const s = (this.published & (SLOTS - 1)) * FIELDS;
    const d = this.desc;
    d[s] = fd;
    d[s + 1] = id;
    d[s + 2] = bytes;
    d[s + 3] = offset;
    d[s + 4] = flags;
    this.published = (this.published + 1) | 0;
    if (this.pending++ === 0) this.worker.ref();
    Atomics.store(this.ctl, 0, this.published); // publishes the slot's fields with it
    // Sequentially consistent: either the thread's "asleep" is seen here, or its wait sees the new count.
    if (Atomics.load(this.ctl, 1) === 1) Atomics.notify(this.ctl, 0);
  }

  /** Stops the thread once it has written everything published before, and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.worker.ref();
      if (!this.broken) this.publish(-1, 0, 0, 0, 0);
    }
    await this.exited;
    this.port.close();
  }
}
