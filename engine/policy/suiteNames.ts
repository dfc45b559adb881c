/**
 * Suite names as a policy file spells them (strongSwan's proposal keywords, the names
 * `EspTransform.name` reports): `aes128gcm16`, `chacha20poly1305`, `aes256-sha256`,
 * `null-sha256`; AH proposals are integrity names alone (`sha256`). The table is derived from
 * `ENCR_SPECS`/`INTEG_SPECS`, so a suite the crypto layer gains is nameable here at once.
 */
import { ENCR_SPECS, INTEG_SPECS } from '../crypto/suites.js';
import { INTEG, type EncrId, type IntegId } from '../crypto/transformIds.js';
import type { EspSuiteSpec } from '../crypto/types.js';

interface EspSuiteInfo {
  readonly spec: EspSuiteSpec;
  /** Octets of KEYMAT for the encryption transform (key ‖ salt); 0 for ENCR_NULL. */
  readonly encKeyLength: number;
  readonly saltLength: number;
  readonly keyBits: number;
  /** Octets of the integrity key; 0 for combined modes. */
  readonly integKeyLength: number;
}

const ESP_BY_NAME = new Map<string, EspSuiteInfo>();
const AH_BY_NAME = new Map<string, IntegId>();

for (const [encrText, encr] of Object.entries(ENCR_SPECS)) {
  const encrId = Number(encrText) as EncrId;
  for (const keyBits of encr.keyBits) {
    const base = {
      encKeyLength: keyBits / 8 + encr.saltLength,
      saltLength: encr.saltLength,
      keyBits,
    };
    // AES transforms take an explicit key size; the others have one size only (see encrSpec).
    const sized = encr.keyBits.length > 1 ? { encrKeyBits: keyBits } : {};
    if (encr.combinedIcv !== undefined) {
      ESP_BY_NAME.set(encr.name(keyBits), { ...base, spec: { encr: encrId, ...sized, integ: INTEG.NONE }, integKeyLength: 0 });
      continue;
    }
    for (const [integText, integ] of Object.entries(INTEG_SPECS)) {
      const integId = Number(integText) as IntegId;
      ESP_BY_NAME.set(`${encr.name(keyBits)}-${integ.name}`, {
        ...base,
        spec: { encr: encrId, ...sized, integ: integId },
        integKeyLength: integ.keyLength,
      });
    }
  }
}
for (const [integText, integ] of Object.entries(INTEG_SPECS)) AH_BY_NAME.set(integ.name, Number(integText) as IntegId);

/**
 * The ESP suite a name stands for, with its key lengths, or undefined.
 *
 * @example
 * espSuiteByName('aes128gcm16')?.encKeyLength // 20: 16-octet key + 4-octet salt (RFC 4106 §8.1)
 */
export function espSuiteByName(name: string): EspSuiteInfo | undefined {
  return ESP_BY_NAME.get(name);
}

/**
 * The name of an ESP suite; RangeError naming `suite` when it has none.
 *
 * @example
 * espSuiteName({ encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128 }) // 'aes256-sha256'
 */
export function espSuiteName(suite: EspSuiteSpec): string {
  for (const [name, info] of ESP_BY_NAME) {
    const s = info.spec;
    const bitsMatch = s.encrKeyBits === undefined ? suite.encrKeyBits === undefined || suite.encrKeyBits === info.keyBits : s.encrKeyBits === suite.encrKeyBits;
    if (s.encr === suite.encr && s.integ === suite.integ && bitsMatch) return name;
  }
  throw new RangeError(`suite: no name for ESP transform ${suite.encr}/${suite.encrKeyBits ?? '-'} with integrity ${suite.integ}`);
}

/**
 * The AH integrity transform a name stands for (`sha256`), or undefined.
 *
 * @example
 * ahIntegByName('sha256') // INTEG.HMAC_SHA2_256_128
 */
export function ahIntegByName(name: string): IntegId | undefined {
  return AH_BY_NAME.get(name);
}

/**
 * The name of an AH integrity transform; RangeError naming `integ` when it has none.
 *
 * @example
 * ahIntegName(INTEG.HMAC_SHA2_256_128) // 'sha256'
 */
export function ahIntegName(integ: IntegId): string {
  const spec = (INTEG_SPECS as Record<number, { name: string } | undefined>)[integ];
  if (spec === undefined) throw new RangeError(`integ: no AH integrity transform ${integ}`);
  return spec.name;
}

/** Integrity key length in octets of an AH transform. */
export function ahKeyLength(integ: IntegId): number {
  return (INTEG_SPECS as Record<number, { keyLength: number }>)[integ]!.keyLength;
}

/** Every ESP suite name, for messages and generators. */
export const ESP_SUITE_NAMES: readonly string[] = [...ESP_BY_NAME.keys()];
/** Every AH integrity name. */
export const AH_INTEG_NAMES: readonly string[] = [...AH_BY_NAME.keys()];

/**
 * The candidate closest to `name` by edit distance, if it is close enough to be a typo.
 *
 * @example
 * closestName('aes129gcm16', ESP_SUITE_NAMES) // 'aes128gcm16'
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}
