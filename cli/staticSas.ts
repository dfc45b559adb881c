/**
 * Static (manually keyed) SAs from a policy file's `<sad>` (RFC 9061 IKE-less): key references
 * resolved (`file:/path` or `env:NAME`, hex), inbound and outbound SAs of one reqid paired, ready
 * for `Gateway.installSa`.
 */
import { readFile } from 'node:fs/promises';
import { fromHex } from '../engine/bytes.js';
import type { KeyMaterial, StaticSaSpec } from '../engine/policy/toPolicies.js';
import { formatIpAddress } from '../engine/policy/ipText.js';
import type { SaInstallSpec } from '../machines/gateway/gateway.js';

/** A key reference that cannot be resolved; the message names the reference and the SA. */
export class KeyRefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRefError';
  }
}

/**
 * Resolves `file:/path` (hex digits, whitespace ignored) or `env:NAME` (hex) to bytes.
 *
 * @example
 * const key = await resolveKeyRef('env:LAN_KEY', 'sad lan-in');
 */
export async function resolveKeyRef(ref: string, what: string): Promise<Uint8Array> {
  let text: string | undefined;
  if (ref.startsWith('file:')) {
    try {
      text = await readFile(ref.slice(5), 'utf8');
    } catch (e) {
      throw new KeyRefError(`${what}: cannot read key file ${ref.slice(5)}: ${(e as Error).message}`);
    }
  } else if (ref.startsWith('env:')) {
    text = process.env[ref.slice(4)];
    if (text === undefined) throw new KeyRefError(`${what}: environment variable ${ref.slice(4)} is not set`);
  } else {
    throw new KeyRefError(`${what}: key reference must be file:/path or env:NAME, got ${ref}`);
  }
  const hex = text.replace(/\s+/g, '').toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(hex)) throw new KeyRefError(`${what}: ${ref} does not hold hex digits`);
  return fromHex(hex);
}

const bytesOf = (k: KeyMaterial | undefined, what: string) => (k === undefined ? Promise.resolve(undefined) : 'bytes' in k ? Promise.resolve(k.bytes) : resolveKeyRef(k.ref, what));

/**
 * The install specs of a file's static ESP SAs.
 *
 * @example
 * for (const spec of await staticSaInstallSpecs(file.staticSas)) await gateway.installSa(spec);
 */
export async function staticSaInstallSpecs(sas: readonly StaticSaSpec[]): Promise<SaInstallSpec[]> {
  const out: SaInstallSpec[] = [];
  for (const s of sas) {
    const what = `sad-entry ${s.id}`;
    if (s.protocol !== 'esp') throw new KeyRefError(`${what}: the gateway runs ESP SAs; AH static SAs are not supported yet`);
    const encKey = await bytesOf(s.encryptionKey, `${what} encryption key`);
    const integKey = await bytesOf(s.integrityKey, `${what} integrity key`);
    if (!encKey) throw new KeyRefError(`${what}: no encryption key`);
    // One reqid can hold several generations of a pair (a manual rekey adds the next before the
    // old one goes): the k-th inbound SA of a reqid pairs with its k-th outbound SA, in file order.
    const group = (direction: string) => sas.filter((o) => o.reqid === s.reqid && o.direction === direction);
    const paired = s.reqid === undefined ? undefined : group(s.direction === 'inbound' ? 'outbound' : 'inbound')[group(s.direction).indexOf(s)];
    out.push({
      id: s.id,
      params: {
        spi: s.spi, protocol: 'esp', direction: s.direction, mode: s.mode, dst: formatIpAddress(s.dst),
        ...(s.tunnel ? { tunnel: { src: formatIpAddress(s.tunnel.src), dst: formatIpAddress(s.tunnel.dst) } } : {}),
        encr: s.suite.encr, ...(s.suite.encrKeyBits ? { encrKeyBits: s.suite.encrKeyBits } : {}), integ: s.suite.integ,
        esn: s.esn, replayWindow: s.replayWindow ?? 0, lifetimes: s.lifetimes,
        ...(s.natT ? { natT: s.natT } : {}),
        ...(s.policyId !== undefined ? { policyId: s.policyId } : {}),
        ...(paired ? { pairedSaId: paired.id } : {}),
      },
      keys: integKey ? { encKey, integKey } : { encKey },
      ...(s.sequenceStart ? { sequenceStart: s.sequenceStart } : {}),
    });
  }
  return out;
}
