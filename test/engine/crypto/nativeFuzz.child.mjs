// Fuzz loop for the native ESP crypto addon, run in a child process by native.fuzz.test.ts so a
// crash (SIGSEGV, an abort from the allocator or a sanitizer) is a failed test, not a dead
// test runner. Usage: node --expose-gc nativeFuzz.child.mjs ADDON ITERATIONS SEED
// Prints one JSON line of counts and exits 0; any unexpected result exits 1 with the reason.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const [addonPath, iterationsArg, seedArg] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(resolve(addonPath));
const iterations = Number(iterationsArg);

// xorshift32: a reproducible stream from SEED.
let s = Number(seedArg) >>> 0 || 1;
const rnd = () => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return s >>> 0;
};
const below = (n) => rnd() % n;
const fill = (b) => {
  for (let i = 0; i < b.length; i += 4) {
    const r = rnd();
    b[i] = r;
    if (i + 1 < b.length) b[i + 1] = r >>> 8;
    if (i + 2 < b.length) b[i + 2] = r >>> 16;
    if (i + 3 < b.length) b[i + 3] = r >>> 24;
  }
  return b;
};
/** Lengths 0..70000: mostly around packet sizes, sometimes anything. */
const randomLength = () => {
  const r = below(100);
  if (r < 60) return below(200);
  if (r < 90) return below(9100);
  return below(70001);
};

const fail = (why) => {
  console.error(`FUZZ FAILURE (seed ${seedArg}): ${why}`);
  process.exit(1);
};

// [encr, keyBits, saltLength, integ, integKeyLength, ivLength, icvLength, padAlign]
const SUITES = [];
for (const bits of [128, 192, 256]) {
  SUITES.push([20, bits, 4, 0, 0, 8, 16, 4], [21, bits, 4, 0, 0, 8, 16, 4]);
  for (const [integ, ik, icv] of [[2, 20, 12], [12, 32, 16], [13, 48, 24], [14, 64, 32]]) {
    SUITES.push([12, bits, 0, integ, ik, 16, icv, 16], [13, bits, 4, integ, ik, 8, icv, 4]);
  }
}
SUITES.push([28, 256, 4, 0, 0, 8, 16, 4]);
for (const [integ, ik, icv] of [[2, 20, 12], [12, 32, 16], [13, 48, 24], [14, 64, 32]]) SUITES.push([11, 0, 0, integ, ik, 0, icv, 4]);

const make = (suite) => {
  const [encr, bits, salt, integ, ik] = suite;
  const sa = addon.create(encr, bits, fill(new Uint8Array(bits / 8 + salt)), integ, ik ? fill(new Uint8Array(ik)) : undefined);
  if (sa === undefined) fail(`suite ${suite} not offered`);
  return sa;
};
const sas = SUITES.map(make);

const counts = { inputs: 0, opened: 0, rejected: 0, sealed: 0, sealRefused: 0, batches: 0, misuse: 0, roundTrips: 0 };
const expectThrow = (f, kind, what) => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof kind)) fail(`${what}: threw ${e?.constructor?.name} ${e?.message}, expected ${kind.name}`);
    counts.misuse++;
    return;
  }
  fail(`${what}: did not throw`);
};
const seqHiOf = () => (below(2) ? undefined : rnd());
const equal = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;

/** A valid sealed packet of this suite, and its plaintext. */
function sealedPacket(k) {
  const suite = SUITES[k];
  const [, , , , , iv, icv, align] = suite;
  let body = below(3000);
  if (align === 16) body -= body % 16;
  const p = fill(new Uint8Array(8 + iv + body + icv));
  const hi = seqHiOf();
  const plain = p.slice();
  sas[k].seal(p, hi);
  return { p, hi, plain };
}

function openRandom(k) {
  const len = randomLength();
  // Sometimes a view at an odd offset into a bigger buffer.
  const base = fill(new Uint8Array(len + below(8)));
  const p = base.subarray(base.length - len);
  const copy = below(4) === 0 ? p.slice() : undefined;
  const r = sas[k].open(p, seqHiOf());
  if (typeof r !== 'boolean') fail(`open returned ${typeof r}`);
  if (r) fail(`random ${len} bytes verified on suite ${SUITES[k]}`);
  if (copy && !equal(copy, p)) fail('a rejected packet was changed');
  counts.rejected++;
}

function sealRandom(k) {
  const p = new Uint8Array(randomLength());
  try {
    sas[k].seal(p, seqHiOf());
    counts.sealed++;
  } catch (e) {
    if (!(e instanceof RangeError)) fail(`seal of ${p.length} bytes threw ${e?.constructor?.name}: ${e?.message}`);
    counts.sealRefused++;
  }
}

function roundTrip(k) {
  const { p, hi, plain } = sealedPacket(k);
  const [, , , , , iv, icv, align] = SUITES[k];
  const n = p.length - 8 - iv - icv;
  const expectOk = !(SUITES[k][0] === 13 && n % align !== 0);
  const cut = p.slice(0, below(p.length + 1));
  const before = cut.slice();
  if (cut.length < p.length && sas[k].open(cut, hi)) fail('a truncated packet verified');
  if (!equal(before, cut)) fail('a truncated packet was changed');
  if (sas[k].open(p, hi) !== expectOk) fail(`round trip on suite ${SUITES[k]} (${p.length} bytes)`);
  // GMAC and NULL leave the payload in the clear; the others restore it.
  if (expectOk && !equal(p.subarray(8 + iv, p.length - icv), plain.subarray(8 + iv, p.length - icv))) fail('round trip changed the payload');
  counts.roundTrips++;
  counts.opened++;
}

function batch(k) {
  const count = below(5) === 0 ? 0 : 1 + below(70);
  const esps = [];
  for (let i = 0; i < count + below(3); i++) {
    const r = below(4);
    if (r === 0) esps.push(sealedPacket(k).p);
    else if (r === 1) esps.push(sealedPacket(k).p.subarray(0, below(100)));
    else esps.push(fill(new Uint8Array(randomLength())));
  }
  const his = below(2) ? undefined : fill(new Uint32Array(count + below(3)));
  const ok = new Uint8Array(count + below(3));
  sas[k].openBatch(esps, count, his, ok);
  for (let i = 0; i < count; i++) if (ok[i] > 1) fail(`ok[${i}] = ${ok[i]}`);
  counts.inputs += count;
  // Seal a batch of random lengths: a RangeError for a length it cannot seal, never a crash.
  const seals = Array.from({ length: below(8) }, () => new Uint8Array(below(200)));
  try {
    sas[k].sealBatch(seals, seals.length, below(2) ? undefined : new Uint32Array(seals.length));
  } catch (e) {
    if (!(e instanceof RangeError)) fail(`sealBatch threw ${e?.constructor?.name}: ${e?.message}`);
  }
  counts.batches++;
}

function misuse(k) {
  const sa = sas[k];
  const p = new Uint8Array(64);
  const ok = new Uint8Array(8);
  const r = below(16);
  if (r === 0) expectThrow(() => sa.openBatch([p], 2 + below(100), undefined, ok), TypeError, 'count > length');
  else if (r === 1) expectThrow(() => sa.openBatch([p], [-1, 1.5, NaN, Infinity, '1', 2 ** 32][below(6)], undefined, ok), TypeError, 'bad count');
  else if (r === 2) expectThrow(() => sa.openBatch([p, [1, 'x', null, undefined, {}, new Uint16Array(4), new DataView(new ArrayBuffer(4)), new Uint8ClampedArray(4)][below(8)]], 2, undefined, ok), TypeError, 'element type');
  else if (r === 3) expectThrow(() => sa.openBatch({ length: 1, 0: p }, 1, undefined, ok), TypeError, 'not an array');
  else if (r === 4) expectThrow(() => sa.openBatch([p, p, p], 3, new Uint32Array(2), ok), TypeError, 'short seqHis');
  else if (r === 5) expectThrow(() => sa.openBatch([p, p, p], 3, undefined, new Uint8Array(2)), TypeError, 'short ok');
  else if (r === 6) expectThrow(() => sa.open(p, 'x'), TypeError, 'seqHi type');
  else if (r === 7) expectThrow(() => sa.seal(), TypeError, 'no arguments');
  else if (r === 8) expectThrow(() => sa.sealBatch([p], 5, undefined), TypeError, 'sealBatch count > length');
  else if (r === 9) {
    // A hole in a sparse array.
    const esps = [p];
    esps[3] = p;
    expectThrow(() => sa.openBatch(esps, 4, undefined, ok), TypeError, 'sparse array');
  } else if (r === 10) {
    // A getter that detaches an earlier packet and `ok` mid-batch: no write to freed memory.
    const esps = [new Uint8Array(100), new Uint8Array(100)];
    const okBox = new Uint8Array(4);
    const first = esps[0];
    Object.defineProperty(esps, 1, {
      get() {
        structuredClone(first.buffer, { transfer: [first.buffer] });
        structuredClone(okBox.buffer, { transfer: [okBox.buffer] });
        return new Uint8Array(100);
      },
    });
    expectThrow(() => sa.openBatch(esps, 2, undefined, okBox), TypeError, 'ok detached mid-batch');
  } else if (r === 11) {
    // Detached buffers: open says false, seal refuses.
    const d = new Uint8Array(100);
    structuredClone(d.buffer, { transfer: [d.buffer] });
    if (sa.open(d, undefined) !== false) fail('a detached buffer verified');
    expectThrow(() => sa.seal(d, undefined), RangeError, 'seal of a detached buffer');
  } else if (r === 12) {
    // A getter that throws.
    const esps = [p];
    Object.defineProperty(esps, 0, { get: () => { throw new SyntaxError('boom'); } });
    expectThrow(() => sa.openBatch(esps, 1, undefined, ok), SyntaxError, 'throwing getter');
  } else if (r === 13) {
    // A getter that destroys the SA mid-batch; then every call is an Error.
    const victim = make(SUITES[k]);
    const esps = [p];
    Object.defineProperty(esps, 1, { get: () => (victim.destroy(), p) });
    expectThrow(() => victim.openBatch(esps, 2, undefined, ok), Error, 'destroyed mid-batch');
    expectThrow(() => victim.open(p, undefined), Error, 'open after destroy');
    expectThrow(() => victim.sealBatch([p], 1, undefined), Error, 'sealBatch after destroy');
  } else if (r === 14) {
    expectThrow(() => addon.create(20, 128, new Uint8Array(19), 0, undefined), RangeError, 'short key');
    expectThrow(() => addon.create(20, 128, 'key', 0, undefined), TypeError, 'key type');
    expectThrow(() => addon.create(12, 128, new Uint8Array(16), 12, new Uint8Array(31)), RangeError, 'short integ key');
    if (addon.create(99, 128, new Uint8Array(16), 0, undefined) !== undefined) fail('an unknown transform was offered');
  } else {
    // Transforms left to the GC: their finalizers free the contexts.
    for (let i = 0; i < 20; i++) make(SUITES[below(SUITES.length)]).open(new Uint8Array(64), undefined);
    if (globalThis.gc && below(4) === 0) globalThis.gc();
  }
}

for (let i = 0; i < iterations; i++) {
  const k = below(SUITES.length);
  const r = below(100);
  if (r < 55) openRandom(k);
  else if (r < 70) sealRandom(k);
  else if (r < 85) roundTrip(k);
  else if (r < 90) batch(k);
  else misuse(k);
  counts.inputs++;
}
for (const sa of sas) sa.destroy();
if (globalThis.gc) globalThis.gc();
console.log(JSON.stringify(counts));
