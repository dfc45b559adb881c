/**
 * Diffie-Hellman groups 14, 19 and 31: RFC 5903 §8.1 (P-256), RFC 7748 §6.1 and RFC 8031
 * Appendix A (X25519), the RFC 3526 §3 prime checked against the RFC's own formula and against
 * OpenSSL's built-in group, two parties agreeing, and a BigInt reference (written here from
 * RFC 7748 §5 and the short Weierstrass formulas) agreeing with node:crypto on random keys.
 * Peer values that RFC 6989 / RFC 7748 say to refuse are refused as values.
 */

import { getDiffieHellman } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import {
  checkDhPublicValue,
  DH_GROUP,
  dhKeyPair,
  dhSharedSecret,
  isValidDhPrivateKey,
  MODP_2048_GENERATOR,
  MODP_2048_PRIME,
} from '../../../engine/ike/index.js';
import { loadVectors } from '../../vectors/load.js';

const p256 = loadVectors('ike/ecdh-p256-rfc5903.json').vector;
const x25519 = loadVectors('ike/x25519-rfc7748-rfc8031.json').vectors as Array<Record<string, string>>;
const modp = loadVectors('ike/modp2048-rfc3526.json');

const big = (b: Uint8Array) => BigInt(`0x${toHex(b) || '0'}`);
const bytesOf = (x: bigint, n: number) => fromHex(x.toString(16).padStart(2 * n, '0'));
const modPow = (b: bigint, e: bigint, m: bigint) => {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};

/** RFC 7748 §5: X25519 with the Montgomery ladder, straight from the pseudocode. */
function x25519Ref(k: Uint8Array, u: Uint8Array): Uint8Array {
  const p = 2n ** 255n - 19n;
  const le = (b: Uint8Array) => BigInt(`0x${toHex(Uint8Array.from(b).reverse()) || '0'}`);
  const s = Uint8Array.from(k);
  s[0]! &= 248;
  s[31]! &= 127;
  s[31]! |= 64;
  const uu = Uint8Array.from(u);
  uu[31]! &= 127; // "implementations of X25519 MUST mask the most significant bit in the final byte"
  const kk = le(s);
  const x1 = le(uu) % p;
  let [x2, z2, x3, z3, swap] = [1n, 0n, x1, 1n, 0n];
  const m = (a: bigint) => ((a % p) + p) % p;
  for (let t = 254n; t >= 0n; t--) {
    const kt = (kk >> t) & 1n;
    if (swap ^ kt) [x2, x3, z2, z3] = [x3, x2, z3, z2];
    swap = kt;
    const A = m(x2 + z2), AA = m(A * A), B = m(x2 - z2), BB = m(B * B), E = m(AA - BB);
    const C = m(x3 + z3), D = m(x3 - z3), DA = m(D * A), CB = m(C * B);
    x3 = m((DA + CB) ** 2n);
    z3 = m(x1 * (DA - CB) ** 2n);
    x2 = m(AA * BB);
    z2 = m(E * (AA + 121665n * E));
  }
  if (swap) [x2, z2] = [x3, z3];
  const r = m(x2 * modPow(z2, p - 2n, p));
  return bytesOf(r, 32).reverse();
}

/** P-256 scalar multiplication in Jacobian coordinates (a = -3), for cross-checking. */
const P = { p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, gx: BigInt('0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'), gy: BigInt('0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5') };
type J = [bigint, bigint, bigint];
function p256Mul(d: bigint, x: bigint, y: bigint): [bigint, bigint] {
  const { p } = P;
  const m = (a: bigint) => ((a % p) + p) % p;
  const dbl = ([X, Y, Z]: J): J => {
    if (Y === 0n || Z === 0n) return [0n, 1n, 0n];
    const Z2 = m(Z * Z), M = m(3n * (X - Z2) * (X + Z2)), S = m(4n * X * Y * Y);
    const X3 = m(M * M - 2n * S);
    return [X3, m(M * (S - X3) - 8n * Y ** 4n), m(2n * Y * Z)];
  };
  const add = (a: J, b: J): J => {
    if (a[2] === 0n) return b;
    if (b[2] === 0n) return a;
    const Z1 = m(a[2] ** 2n), Z2 = m(b[2] ** 2n);
    const U1 = m(a[0] * Z2), U2 = m(b[0] * Z1), S1 = m(a[1] * Z2 * b[2]), S2 = m(b[1] * Z1 * a[2]);
    if (U1 === U2) return S1 === S2 ? dbl(a) : [0n, 1n, 0n];
    const H = m(U2 - U1), R = m(S2 - S1), H2 = m(H * H), H3 = m(H2 * H);
    const X3 = m(R * R - H3 - 2n * U1 * H2);
    return [X3, m(R * (U1 * H2 - X3) - S1 * H3), m(H * a[2] * b[2])];
  };
  let acc: J = [0n, 1n, 0n];
  for (let i = 255n; i >= 0n; i--) {
    acc = dbl(acc);
    if ((d >> i) & 1n) acc = add(acc, [x, y, 1n]);
  }
  const zi = modPow(acc[2], p - 2n, p);
  return [m(acc[0] * zi * zi), m(acc[1] * zi * zi * zi)];
}

describe('group 19, 256-bit random ECP (RFC 5903)', () => {
  it('rfc5903/8.1: gi, gr and the shared x coordinate, both ways', () => {
    const i = dhKeyPair(DH_GROUP.ECP_256, fromHex(p256.i));
    const r = dhKeyPair(DH_GROUP.ECP_256, fromHex(p256.r));
    expect(toHex(i.publicValue)).toBe(p256.gix + p256.giy); // RFC 5903 §7: x | y, no 0x04
    expect(toHex(r.publicValue)).toBe(p256.grx + p256.gry);
    const a = dhSharedSecret(19, i.privateKey, r.publicValue);
    const b = dhSharedSecret(19, r.privateKey, i.publicValue);
    expect(a.ok && toHex(a.sharedSecret)).toBe(p256.girx);
    expect(b.ok && toHex(b.sharedSecret)).toBe(p256.girx);
  });

  it('the BigInt reference reproduces RFC 5903 §8.1 too', () => {
    const [x, y] = p256Mul(BigInt(`0x${p256.i}`), P.gx, P.gy);
    expect(toHex(bytesOf(x, 32)) + toHex(bytesOf(y, 32))).toBe(p256.gix + p256.giy);
  });

  it('refuses points off the curve, coordinates not below p, wrong lengths (RFC 6989 §2.3)', () => {
    const me = dhKeyPair(19, fromHex(p256.i));
    const gr = fromHex(p256.grx + p256.gry);
    const off = gr.slice();
    off[63]! ^= 1;
    expect(dhSharedSecret(19, me.privateKey, off)).toMatchObject({ ok: false, reason: 'notOnCurve' });
    const big = gr.slice();
    big.set(bytesOf(P.p, 32), 0);
    expect(dhSharedSecret(19, me.privateKey, big)).toMatchObject({ ok: false, reason: 'outOfRange' });
    expect(dhSharedSecret(19, me.privateKey, new Uint8Array(64))).toMatchObject({ ok: false, reason: 'notOnCurve' });
    expect(dhSharedSecret(19, me.privateKey, fromHex('04' + p256.grx + p256.gry))).toMatchObject({ ok: false, reason: 'badLength' });
    expect(checkDhPublicValue(19, gr)).toEqual({ ok: true });
  });

  it('private keys are 32 octets in [1, n-1]', () => {
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    expect([0n, 1n, n - 1n, n].map((d) => isValidDhPrivateKey(19, bytesOf(d, 32)))).toEqual([false, true, true, false]);
    expect(() => dhKeyPair(19, bytesOf(n, 32))).toThrow(/privateKey.*\[1, n-1\]/);
    expect(() => dhKeyPair(19, new Uint8Array(31).fill(1))).toThrow(/privateKey.*32 octets/);
  });
});

describe('group 31, Curve25519 (RFC 8031, RFC 7748)', () => {
  it.each(x25519.map((v) => [v.id, v]))('%s: public values and the shared secret, both ways', (_id, v) => {
    const i = dhKeyPair(DH_GROUP.CURVE25519, fromHex(v.private_i!));
    const r = dhKeyPair(DH_GROUP.CURVE25519, fromHex(v.private_r!));
    expect([toHex(i.publicValue), toHex(r.publicValue)]).toEqual([v.public_i, v.public_r]);
    const a = dhSharedSecret(31, i.privateKey, r.publicValue);
    const b = dhSharedSecret(31, r.privateKey, i.publicValue);
    expect([a.ok && toHex(a.sharedSecret), b.ok && toHex(b.sharedSecret)]).toEqual([v.shared, v.shared]);
    expect(toHex(x25519Ref(fromHex(v.private_i!), fromHex(v.public_r!)))).toBe(v.shared);
  });

  it('refuses an all-zero output (RFC 7748 §6.1): small-order points', () => {
    const me = dhKeyPair(31, fromHex(x25519[0]!.private_i!));
    for (const u of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      expect(dhSharedSecret(31, me.privateKey, fromHex(u))).toMatchObject({ ok: false, reason: 'zeroSharedSecret' });
    }
    expect(dhSharedSecret(31, me.privateKey, new Uint8Array(31))).toMatchObject({ ok: false, reason: 'badLength' });
  });

  it('masks the top bit of a received u-coordinate (RFC 8031 §3.2)', () => {
    const v = x25519[0]!;
    const u = fromHex(v.public_r!);
    u[31]! |= 0x80;
    const s = dhSharedSecret(31, fromHex(v.private_i!), u);
    expect(s.ok && toHex(s.sharedSecret)).toBe(v.shared);
  });
});

describe('group 14, 2048-bit MODP (RFC 3526 §3)', () => {
  it('the prime is the RFC\'s, its formula 2^2048 - 2^1984 - 1 + 2^64 * ([2^1918 pi] + 124476), and OpenSSL\'s modp14', () => {
    expect(toHex(MODP_2048_PRIME)).toBe(modp.prime);
    expect(MODP_2048_GENERATOR).toBe(modp.generator);
    // floor(pi * 2^1918) by Machin's formula, pi = 16 atan(1/5) - 4 atan(1/239).
    const guard = 64n;
    const one = 1n << (1918n + guard);
    const atanInv = (x: bigint) => {
      let total = 0n, term = one / x, n = 1n, sign = 1n;
      while (term !== 0n) {
        total += sign * (term / n);
        term /= x * x;
        n += 2n;
        sign = -sign;
      }
      return total;
    };
    const piBits = (4n * (4n * atanInv(5n) - atanInv(239n))) >> guard;
    expect(big(MODP_2048_PRIME)).toBe(2n ** 2048n - 2n ** 1984n - 1n + 2n ** 64n * (piBits + 124476n));
    expect(toHex(getDiffieHellman('modp14').getPrime())).toBe(modp.prime);
  });

  test.prop([fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 })], { numRuns: 20 })(
    'two parties derive the same g^ir, as the BigInt reference does, padded to 256 octets',
    (a, b) => {
      fc.pre(isValidDhPrivateKey(14, a) && isValidDhPrivateKey(14, b));
      const A = dhKeyPair(14, a);
      const B = dhKeyPair(14, b);
      const p = big(MODP_2048_PRIME);
      expect(A.publicValue).toHaveLength(256);
      expect(toHex(A.publicValue)).toBe(toHex(bytesOf(modPow(2n, big(a), p), 256)));
      const s1 = dhSharedSecret(14, a, B.publicValue);
      const s2 = dhSharedSecret(14, b, A.publicValue);
      expect(s1.ok && s2.ok && toHex(s1.sharedSecret) === toHex(s2.sharedSecret)).toBe(true);
      expect(s1.ok && toHex(s1.sharedSecret)).toBe(toHex(bytesOf(modPow(modPow(2n, big(b), p), big(a), p), 256)));
    },
  );

  it('refuses peer values outside (1, p-1) and of the wrong length (RFC 6989 §2.1)', () => {
    const me = dhKeyPair(14, new Uint8Array(32).fill(9));
    const p = big(MODP_2048_PRIME);
    for (const y of [0n, 1n, p - 1n, p, 2n ** 2048n - 1n]) {
      expect(dhSharedSecret(14, me.privateKey, bytesOf(y, 256))).toMatchObject({ ok: false, reason: 'outOfRange' });
    }
    expect(dhSharedSecret(14, me.privateKey, bytesOf(2n, 256)).ok).toBe(true);
    expect(dhSharedSecret(14, me.privateKey, bytesOf(5n, 255))).toMatchObject({ ok: false, reason: 'badLength' });
    expect(isValidDhPrivateKey(14, new Uint8Array(32))).toBe(false);
    expect(isValidDhPrivateKey(14, new Uint8Array(16).fill(3))).toBe(false);
  });
});

describe('all groups', () => {
  test.prop([fc.constantFrom(19, 31), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 })], { numRuns: 25 })(
    'node:crypto agrees with the BigInt references on random keys, and both sides agree',
    (group, a, b) => {
      fc.pre(isValidDhPrivateKey(group, a) && isValidDhPrivateKey(group, b));
      const A = dhKeyPair(group, a);
      const B = dhKeyPair(group, b);
      if (group === 31) {
        const nine = new Uint8Array(32);
        nine[0] = 9;
        expect(toHex(A.publicValue)).toBe(toHex(x25519Ref(a, nine)));
      } else {
        const [x, y] = p256Mul(big(a), P.gx, P.gy);
        expect(toHex(A.publicValue)).toBe(toHex(bytesOf(x, 32)) + toHex(bytesOf(y, 32)));
      }
      const s1 = dhSharedSecret(group, a, B.publicValue);
      const s2 = dhSharedSecret(group, b, A.publicValue);
      expect(s1.ok && s2.ok && toHex(s1.sharedSecret)).toBe(s2.ok && toHex(s2.sharedSecret));
    },
  );

  it('unsupported groups are misuse', () => {
    expect(() => dhKeyPair(5, new Uint8Array(32))).toThrow(/group: unsupported Diffie-Hellman group 5/);
    expect(() => checkDhPublicValue(0, new Uint8Array(0))).toThrow(RangeError);
  });
});
