import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NATIVE_CRYPTO_ADDON_PATH, nativeCryptoStatus } from '../../../engine/crypto/nativeBackend.js';

// The fuzz loop runs in a child process so a crash of the addon is a failed test, not a dead
// runner. IPSEC_ES_CRYPTO_ADDON can name a sanitizer build of the addon (see native/crypto).
const status = nativeCryptoStatus();
const skip = status.available ? '' : ` (skipped: ${status.why})`;
const addon = process.env.IPSEC_ES_CRYPTO_ADDON || fileURLToPath(new URL(`../../../${NATIVE_CRYPTO_ADDON_PATH}`, import.meta.url));
const child = fileURLToPath(new URL('./nativeFuzz.child.mjs', import.meta.url));
const ITERATIONS = Number(process.env.IPSEC_ES_FUZZ_ITERATIONS ?? 110_000);

describe.skipIf(!status.available || !existsSync(addon))(`native ESP crypto under fuzz, in a child process${skip}`, () => {
  it(`${ITERATIONS} random inputs on every suite (open, seal, batches, truncations, misuse) never crash it`, () => {
    const seed = randomInt(1, 2 ** 31);
    const run = spawnSync(process.execPath, ['--expose-gc', child, addon, String(ITERATIONS), String(seed)], { encoding: 'utf8', timeout: 240_000 });
    const report = `seed ${seed}, exit ${run.status}, signal ${run.signal}\n${run.stderr}`;
    expect(run.signal, report).toBeNull();
    expect(run.status, report).toBe(0);
    const counts = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(counts.inputs).toBeGreaterThanOrEqual(ITERATIONS);
    // Every kind of input was exercised.
    for (const kind of ['rejected', 'opened', 'sealed', 'sealRefused', 'batches', 'misuse']) expect(counts[kind], kind).toBeGreaterThan(0);
  }, 300_000);
});
