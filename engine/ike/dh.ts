/**
 * Diffie-Hellman for IKEv2 KE payloads: group 14 (2048-bit MODP, RFC 3526 §3), group 19
 * (256-bit random ECP, RFC 5903), group 31 (Curve25519, RFC 8031). Deterministic: the private
 * key is an argument (draw it from the Random port), never generated here. The arithmetic is
 * node:crypto's (OpenSSL); @noble/curves is not a dependency, so there is no second back end for
 * DH — tests cross-check against a BigInt reference instead. Peer values are checked as RFC 6989
 * and RFC 8031 require, and a bad one is a value (`{ ok: false }`), never an exception.
 */

import { createDiffieHellman, createECDH, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { fromHex, toHex } from '../bytes.js';
import { isAllZero, requireBytes } from './codec.js';
import { DH_GROUP, type DhGroupId } from './constants.js';

/** RFC 3526 §3: "This prime is: 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }". */
export const MODP_2048_PRIME = fromHex(`
  FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
  29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
  EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
  E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
  EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
  C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
  83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
  670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
  E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
  DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
  15728E5A 8AACAA68 FFFFFFFF FFFFFFFF`);
/** RFC 3526 §3: "The generator is: 2." */
export const MODP_2048_GENERATOR = 2;

/** RFC 5903 §3.1 (FIPS 186-3 P-256): prime p, coefficient b (a = -3) and group order n. */
const P256 = {
  p: BigInt('0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff'),
  b: BigInt('0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b'),
  n: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
};
const MODP_P = BigInt(`0x${toHex(MODP_2048_PRIME)}`);
/** RFC 8410 §3 / §7: the DER wrappers of a raw X25519 private (PKCS#8) and public (SPKI) key. */
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');
const X25519_SPKI_PREFIX = fromHex('302a300506032b656e032100');

/** Sizes of one group's values. */
export interface DhGroupSpec {
  readonly name: string;
  /** Octets of Key Exchange Data (§3.4; RFC 5903 §7: x ‖ y; RFC 8031 §3.1: 32). */
  readonly publicValueLength: number;
  /** Octets of g^ir (§2.14 MODP: the modulus length; RFC 5903 §7: x only; RFC 8031 §2: 32). */
  readonly sharedSecretLength: number;
  /** Octets of private key this module takes (a longer MODP exponent is allowed, see `dhKeyPair`). */
  readonly privateKeyLength: number;
}

/** Sizes of groups 14, 19 and 31 (RFC 3526 §3, RFC 5903 §7, RFC 8031 §2). */
export const DH_GROUP_SPECS: Readonly<Record<DhGroupId, DhGroupSpec>> = {
  [DH_GROUP.MODP_2048]: { name: 'modp2048', publicValueLength: 256, sharedSecretLength: 256, privateKeyLength: 32 },
  [DH_GROUP.ECP_256]: { name: 'ecp256', publicValueLength: 64, sharedSecretLength: 32, privateKeyLength: 32 },
  [DH_GROUP.CURVE25519]: { name: 'curve25519', publicValueLength: 32, sharedSecretLength: 32, privateKeyLength: 32 },
};

/**
 * The spec of a supported group; RangeError naming `group` otherwise.
 *
 * @example
 * dhGroupSpec(19).publicValueLength // 64
 */
export function dhGroupSpec(group: number): DhGroupSpec {
  const spec = (DH_GROUP_SPECS as Record<number, DhGroupSpec | undefined>)[group];
  if (spec === undefined) throw new RangeError(`group: unsupported Diffie-Hellman group ${group} (supported: 14, 19, 31)`);
  return spec;
}

const big = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`));

function leftPad(b: Uint8Array, length: number): Uint8Array {
  if (b.length === length) return Uint8Array.from(b);
  const out = new Uint8Array(length);
  out.set(b.subarray(Math.max(0, b.length - length)), Math.max(0, length - b.length));
  return out;
}

/** Why a private key does not fit its group, or undefined when it does. */
function privateKeyProblem(group: DhGroupId, key: Uint8Array): string | undefined {
  if (group === DH_GROUP.MODP_2048) {
    // RFC 3526 §8: an exponent of at least twice the group's strength (~110 bits): take 32+ octets.
    if (key.length < 32 || key.length > 256) return `must be 32 to 256 octets for group 14, got ${key.length}`;
    const x = big(key);
    return x >= 2n && x <= MODP_P - 2n ? undefined : 'must be in [2, p-2] for group 14';
  }
  if (key.length !== 32) return `must be 32 octets for group ${group}, got ${key.length}`;
  if (group === DH_GROUP.ECP_256) {
    const d = big(key);
    return d >= 1n && d < P256.n ? undefined : 'must be in [1, n-1] for group 19';
  }
  return undefined; // RFC 8031 §2, RFC 7748 §5: any 32 octets; X25519 clears and sets the bits itself.
}

/**
 * True when `privateKey` can be used in `group` (so a caller drawing random bytes can draw
 * again: a random 32-octet P-256 scalar is out of range with probability below 2^-32).
 *
 * @example
 * while (!isValidDhPrivateKey(19, key)) key = random.bytes(32);
 */
export function isValidDhPrivateKey(group: number, privateKey: Uint8Array): boolean {
  dhGroupSpec(group);
  return privateKey instanceof Uint8Array && privateKeyProblem(group as DhGroupId, privateKey) === undefined;
}

/** A key pair: the private key as given and the public value as the KE payload carries it. */
export interface DhKeyPair {
  group: DhGroupId;
  privateKey: Uint8Array;
  /** Key Exchange Data (§3.4). */
  publicValue: Uint8Array;
}

/**
 * X25519 private keys as node:crypto key objects, by the array `dhKeyPair` returned: importing one
 * costs ~0.6 ms, and the shared secret needs the same key again (a handshake's largest cost after
 * the state machines, measured by bench:ike).
 */
const x25519Keys = new WeakMap<Uint8Array, KeyObject>();
const x25519Private = (key: Uint8Array): KeyObject => x25519Keys.get(key) ?? createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, key]), format: 'der', type: 'pkcs8' });
/** A peer's X25519 public value as a key object: a JWK (RFC 8037 §2) imports ~10× faster than DER SPKI. */
const x25519Public = (value: Uint8Array): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64url') }, format: 'jwk' });

/**
 * The public value for a private key: MODP g^x mod p padded to 256 octets (§3.4: "prepending
 * zero bits to the value if necessary"), ECP x ‖ y (RFC 5903 §7), X25519 the u-coordinate
 * (RFC 8031 §3.1). Throws RangeError naming `privateKey` if it does not fit the group.
 *
 * @example
 * const mine = dhKeyPair(DH_GROUP.CURVE25519, random.bytes(32));
 * const ke = { type: 'KE', group: 31, data: mine.publicValue };
 */
export function dhKeyPair(group: number, privateKey: Uint8Array): DhKeyPair {
  const spec = dhGroupSpec(group);
  requireBytes(privateKey, 'privateKey', 1, 256);
  const problem = privateKeyProblem(group as DhGroupId, privateKey);
  if (problem !== undefined) throw new RangeError(`privateKey: ${problem}`);
  let publicValue: Uint8Array;
  if (group === DH_GROUP.MODP_2048) {
    const dh = createDiffieHellman(MODP_2048_PRIME, Uint8Array.of(MODP_2048_GENERATOR));
    dh.setPrivateKey(privateKey);
    publicValue = leftPad(dh.generateKeys(), spec.publicValueLength);
  } else if (group === DH_GROUP.ECP_256) {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    publicValue = Uint8Array.from(ecdh.getPublicKey().subarray(1)); // drop SEC1's 0x04 (RFC 5903 §7)
  } else {
    const key = x25519Private(privateKey);
    const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    publicValue = Uint8Array.from(spki.subarray(X25519_SPKI_PREFIX.length));
    const own = Uint8Array.from(privateKey);
    x25519Keys.set(own, key);
    return { group: group as DhGroupId, privateKey: own, publicValue };
  }
  return { group: group as DhGroupId, privateKey: Uint8Array.from(privateKey), publicValue };
}

/** Why a peer's public value was refused. */
export type DhFailureReason = 'badLength' | 'outOfRange' | 'notOnCurve' | 'zeroSharedSecret';

/** The outcome of checking or using a peer's public value. */
export type DhResult<T> = ({ ok: true } & T) | { ok: false; reason: DhFailureReason; detail: string };

/**
 * Checks a peer's Key Exchange Data without a private key: the length of the group (§3.4,
 * RFC 5903 §7, RFC 8031 §3.1); MODP 1 < y < p-1 (RFC 6989 §2.1, regular MODP groups: a safe
 * prime needs no subgroup test); ECP coordinates below p and the point on the curve (RFC 6989
 * §2.3). Any 32 octets are an X25519 value: RFC 8031 §3.2 says to mask the top bit and accept
 * non-canonical values (RFC 7748 §5); its check is on the output (`dhSharedSecret`). Never
 * throws on the value.
 *
 * @example
 * const c = checkDhPublicValue(ke.group, ke.data);
 * if (!c.ok) return reject('INVALID_SYNTAX');
 */
export function checkDhPublicValue(group: number, value: Uint8Array): DhResult<object> {
  const spec = dhGroupSpec(group);
  if (!(value instanceof Uint8Array) || value.length !== spec.publicValueLength) {
    return { ok: false, reason: 'badLength', detail: `group ${group} public values are ${spec.publicValueLength} octets, got ${value?.length}` };
  }
  if (group === DH_GROUP.MODP_2048) {
    const y = big(value);
    if (y <= 1n || y >= MODP_P - 1n) return { ok: false, reason: 'outOfRange', detail: 'MODP public value not in (1, p-1)' };
  } else if (group === DH_GROUP.ECP_256) {
    const x = big(value.subarray(0, 32));
    const y = big(value.subarray(32));
    if (x >= P256.p || y >= P256.p) return { ok: false, reason: 'outOfRange', detail: 'ECP coordinate not below p' };
    const { p, b } = P256;
    if ((y * y - (x * x * x - 3n * x + b)) % p !== 0n) return { ok: false, reason: 'notOnCurve', detail: 'ECP point not on P-256' };
  }
  return { ok: true };
}

/**
 * g^ir from our private key and the peer's public value, as IKE uses it: MODP padded to the
 * modulus length (§2.14), ECP the x coordinate (RFC 5903 §7), X25519 the 32-octet output,
 * refused when all zero (RFC 7748 §6.1: "check ... whether the result is the all-zero value").
 * A bad peer value is `{ ok: false }`.
 *
 * @example
 * const s = dhSharedSecret(mine.group, mine.privateKey, peerKe.data);
 * if (!s.ok) return reject(s.reason);
 * const keys = deriveIkeSaKeys({ ..., sharedSecret: s.sharedSecret });
 */
export function dhSharedSecret(group: number, privateKey: Uint8Array, peerPublicValue: Uint8Array): DhResult<{ sharedSecret: Uint8Array }> {
  const spec = dhGroupSpec(group);
  requireBytes(privateKey, 'privateKey', 1, 256);
  const problem = privateKeyProblem(group as DhGroupId, privateKey);
  if (problem !== undefined) throw new RangeError(`privateKey: ${problem}`);
  const check = checkDhPublicValue(group, peerPublicValue);
  if (!check.ok) return check;
  let secret: Uint8Array;
  try {
    if (group === DH_GROUP.MODP_2048) {
      const dh = createDiffieHellman(MODP_2048_PRIME, Uint8Array.of(MODP_2048_GENERATOR));
      dh.setPrivateKey(privateKey);
      secret = leftPad(dh.computeSecret(peerPublicValue), spec.sharedSecretLength);
    } else if (group === DH_GROUP.ECP_256) {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(privateKey);
      secret = Uint8Array.from(ecdh.computeSecret(Buffer.concat([Uint8Array.of(4), peerPublicValue])));
    } else {
      secret = Uint8Array.from(diffieHellman({ privateKey: x25519Private(privateKey), publicKey: x25519Public(peerPublicValue) }));
    }
  } catch {
    // OpenSSL refuses an all-zero X25519 output and invalid points; the checks above catch the
    // rest first, so only those reach here.
    return { ok: false, reason: group === DH_GROUP.CURVE25519 ? 'zeroSharedSecret' : 'notOnCurve', detail: 'the back end refused the peer value' };
  }
  if (isAllZero(secret)) return { ok: false, reason: 'zeroSharedSecret', detail: 'all-zero shared secret (RFC 7748 §6.1)' };
  return { ok: true, sharedSecret: secret };
}
