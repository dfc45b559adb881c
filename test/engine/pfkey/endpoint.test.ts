/** PfKeyEndpoint over the Map-based SAD port: RFC 2367 §3.1 semantics, errnos, broadcasts, expiry. */

import { fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { PFKEY_AUTH_ALGS, PFKEY_ENCR_ALGS } from '../../../engine/pfkey/algorithms.js';
import { ERRNO, IPSEC_MODE, SADB_AALG, SADB_EALG, SADB_SASTATE, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { PfKeyEndpoint, type EndpointOutput } from '../../../engine/pfkey/endpoint.js';
import { memorySadPort } from '../../../engine/pfkey/memorySadPort.js';
import { toSaLifetimes } from '../../../engine/pfkey/sadPort.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import type { LifetimeExt, PfKeyMessage, PfKeyMessageOf } from '../../../engine/pfkey/types.js';
import { arbMessage } from './arbitraries.js';

const SRC = [192, 0, 2, 1];
const DST = [198, 51, 100, 7];
const addrs = { addressSrc: { proto: 0, prefixlen: 32, addr: inet(SRC) }, addressDst: { proto: 0, prefixlen: 32, addr: inet(DST) } };
const seeded = (seed: number) => {
  let a = seed;
  return (n: number) => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a % n;
  };
};
const lifetime = (addtime: bigint): LifetimeExt => ({ allocations: 0, bytes: 0n, addtime, usetime: 0n });
const gcmKey = Uint8Array.from({ length: 20 }, (_, i) => i + 1); // AES-128 key + 4-octet salt

function setup() {
  const sad = memorySadPort();
  const endpoint = new PfKeyEndpoint({ sad, random: seeded(7) });
  endpoint.connect('km');
  endpoint.connect('other');
  return { sad, endpoint };
}
const one = (out: EndpointOutput): PfKeyMessage => {
  expect(out.replies).toHaveLength(1);
  return out.replies[0]!;
};
const getspi = (range?: { min: number; max: number }, seq = 1): PfKeyMessageOf<'GETSPI'> => ({
  type: 'GETSPI', satype: SADB_SATYPE.ESP, errno: 0, seq, pid: 100,
  ext: { sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 5 }, ...addrs, ...(range ? { spiRange: range } : {}) },
});
const update = (spi: number, over: Partial<PfKeyMessageOf<'UPDATE'>['ext']> = {}, type: 'UPDATE' | 'ADD' = 'UPDATE'): PfKeyMessage => ({
  type, satype: SADB_SATYPE.ESP, errno: 0, seq: 2, pid: 100,
  ext: {
    sa: { spi, replay: 64, state: SADB_SASTATE.MATURE, auth: SADB_AALG.NONE, encrypt: SADB_EALG.X_AES_GCM_ICV16, flags: 0 },
    lifetimeHard: lifetime(3600n),
    lifetimeSoft: lifetime(3000n),
    ...addrs,
    keyEncrypt: { bits: 160, key: gcmKey },
    sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 5 },
    ...over,
  },
} as PfKeyMessage);
const byKey = (spi: number) => ({ type: 'GET' as const, satype: SADB_SATYPE.ESP, errno: 0, seq: 3, pid: 100, ext: { sa: { spi, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 }, ...addrs } });

describe('PfKeyEndpoint', () => {
  it('GETSPI allocates an SPI in SPIRANGE and creates a LARVAL SA; UPDATE fills it; GET returns it with keys', () => {
    const { sad, endpoint } = setup();
    const r1 = one(endpoint.handle(getspi({ min: 0x1000, max: 0x1fff }), 'km', 1_000));
    expect(r1).toMatchObject({ type: 'GETSPI', errno: 0, seq: 1, pid: 100, satype: 3 });
    const spi = r1.type === 'GETSPI' ? r1.ext.sa!.spi : -1;
    expect(spi).toBeGreaterThanOrEqual(0x1000);
    expect(spi).toBeLessThanOrEqual(0x1fff);
    expect(r1.type === 'GETSPI' && r1.ext.sa!.state).toBe(SADB_SASTATE.LARVAL);
    expect(sad.list()).toMatchObject([{ spi, state: 'larval', mode: 'tunnel', reqid: 5 }]);

    const out = endpoint.handle(update(spi), 'km', 2_000);
    const r2 = one(out);
    expect(r2).toMatchObject({ type: 'UPDATE', errno: 0 });
    expect(r2.type === 'UPDATE' && (r2.ext.keyEncrypt ?? r2.ext.keyAuth)).toBeUndefined(); // no keys in the echo
    expect(out.broadcasts).toEqual([{ to: ['other'], msg: r2 }]);
    const sa = sad.list()[0]!;
    expect(sa).toMatchObject({ spi, state: 'mature', encr: { transform: ENCR.AES_GCM_16, keyBits: 128, key: gcmKey }, replayWindow: 64 });
    expect(toSaLifetimes(sa)).toEqual({ soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } });

    sad.recordUse({ spi, dst: Uint8Array.from(DST), protocol: 'esp' }, 3, 300, 2_500);
    const r3 = one(endpoint.handle(byKey(spi), 'km', 3_000));
    expect(r3.type === 'GET' && r3.ext).toMatchObject({
      sa: { spi, state: SADB_SASTATE.MATURE, encrypt: SADB_EALG.X_AES_GCM_ICV16, auth: 0, replay: 64 },
      keyEncrypt: { bits: 160, key: gcmKey },
      lifetimeCurrent: { allocations: 3, bytes: 300n, addtime: 2n, usetime: 2n },
      lifetimeHard: { addtime: 3600n },
      sa2: { mode: IPSEC_MODE.TUNNEL, reqid: 5 },
    });
  });

  it('GETSPI errors: bad range EINVAL, exhausted range ENOENT, missing address EINVAL, bad satype EINVAL', () => {
    const { endpoint } = setup();
    expect(one(endpoint.handle(getspi({ min: 0x2000, max: 0x1000 }), 'km', 0)).errno).toBe(ERRNO.EINVAL);
    expect(one(endpoint.handle(getspi({ min: 0x5000, max: 0x5000 }), 'km', 0)).errno).toBe(0);
    expect(one(endpoint.handle(getspi({ min: 0x5000, max: 0x5000 }), 'km', 0)).errno).toBe(ERRNO.ENOENT);
    expect(one(endpoint.handle(getspi({ min: 1, max: 255 }), 'km', 0)).errno).toBe(ERRNO.EINVAL);
    const noDst = getspi();
    delete noDst.ext.addressDst;
    expect(one(endpoint.handle(noDst, 'km', 0)).errno).toBe(ERRNO.EINVAL);
    expect(one(endpoint.handle({ ...getspi(), satype: SADB_SATYPE.RSVP }, 'km', 0)).errno).toBe(ERRNO.EINVAL);
    const mixed = getspi();
    mixed.ext.addressDst = { proto: 0, prefixlen: 128, addr: { family: 'inet6', address: new Uint8Array(16), port: 0 } };
    expect(one(endpoint.handle(mixed, 'km', 0)).errno).toBe(ERRNO.EINVAL);
  });

  it('UPDATE/ADD errors carry the errno Linux uses', () => {
    const { endpoint } = setup();
    const r = one(endpoint.handle(getspi(), 'km', 0));
    const spi = r.type === 'GETSPI' ? r.ext.sa!.spi : 0;
    const errno = (m: PfKeyMessage) => one(endpoint.handle(m, 'km', 0)).errno;
    expect(errno(update(spi + 1))).toBe(ERRNO.ESRCH); // no such SA
    expect(errno(update(spi, { keyEncrypt: { bits: 136, key: new Uint8Array(17) } }))).toBe(ERRNO.EINVAL); // no such key size
    expect(errno(update(spi, { keyEncrypt: undefined }))).toBe(ERRNO.EINVAL); // ESP without KEY_ENCRYPT
    expect(errno(update(spi, { lifetimeSoft: undefined }))).toBe(ERRNO.EINVAL); // hard without soft
    expect(errno(update(spi, { sa: { spi, replay: 0, state: 1, auth: 0, encrypt: SADB_EALG['3DESCBC'], flags: 0 } }))).toBe(ERRNO.ENOSYS);
    expect(errno(update(spi, { sa: { spi, replay: 0, state: 1, auth: SADB_AALG.X_SHA2_256HMAC, encrypt: SADB_EALG.X_AES_GCM_ICV16, flags: 0 }, keyAuth: { bits: 256, key: new Uint8Array(32) } }))).toBe(ERRNO.EINVAL); // GCM + HMAC
    expect(errno(update(spi, { sa: { spi, replay: 0, state: 1, auth: SADB_AALG.X_SHA2_256HMAC, encrypt: SADB_EALG.X_AESCBC, flags: 0 }, keyAuth: { bits: 160, key: new Uint8Array(20) }, keyEncrypt: { bits: 128, key: new Uint8Array(16) } }))).toBe(ERRNO.EINVAL); // short HMAC key
    expect(errno(update(spi))).toBe(0);
    expect(errno(update(spi, {}, 'ADD'))).toBe(ERRNO.EEXIST);
    expect(errno({ ...update(spi), reserved: 1 })).toBe(ERRNO.EINVAL);
  });

  it('UPDATE of a MATURE SA changes its lifetimes only', () => {
    const { sad, endpoint } = setup();
    one(endpoint.handle(update(0x4242, {}, 'ADD'), 'km', 0));
    const otherKey = new Uint8Array(20).fill(9);
    one(endpoint.handle(update(0x4242, { keyEncrypt: { bits: 160, key: otherKey }, lifetimeHard: lifetime(7200n), lifetimeSoft: lifetime(7000n) }), 'km', 0));
    expect(sad.list()[0]).toMatchObject({ encr: { key: gcmKey }, hard: { addSeconds: 7200n }, soft: { addSeconds: 7000n } });
  });

  it('ADD with AES-CBC + HMAC-SHA-256 and AH with HMAC-SHA-1; DUMP counts down to seq 0; DELETE; FLUSH', () => {
    const { sad, endpoint } = setup();
    const cbc = update(0x1001, {
      sa: { spi: 0x1001, replay: 32, state: 1, auth: SADB_AALG.X_SHA2_256HMAC, encrypt: SADB_EALG.X_AESCBC, flags: 0 },
      keyAuth: { bits: 256, key: new Uint8Array(32).fill(1) },
      keyEncrypt: { bits: 256, key: new Uint8Array(32).fill(2) },
    }, 'ADD');
    expect(one(endpoint.handle(cbc, 'km', 0)).errno).toBe(0);
    const ah: PfKeyMessage = {
      type: 'ADD', satype: SADB_SATYPE.AH, errno: 0, seq: 4, pid: 100,
      ext: { sa: { spi: 0x2002, replay: 0, state: 1, auth: SADB_AALG.SHA1HMAC, encrypt: 0, flags: 0 }, ...addrs, keyAuth: { bits: 160, key: new Uint8Array(20).fill(3) } },
    };
    expect(one(endpoint.handle(ah, 'km', 0)).errno).toBe(0);
    expect(sad.list().map((s) => [s.protocol, s.integ?.transform, s.encr?.transform])).toEqual([
      ['esp', INTEG.HMAC_SHA2_256_128, ENCR.AES_CBC],
      ['ah', INTEG.HMAC_SHA1_96, undefined],
    ]);

    const dump = endpoint.handle({ type: 'DUMP', satype: SADB_SATYPE.UNSPEC, errno: 0, seq: 9, pid: 100, ext: {} }, 'km', 0);
    expect(dump.replies.map((m) => [m.type, m.seq, m.satype, m.pid])).toEqual([['DUMP', 1, 3, 100], ['DUMP', 0, 2, 100]]);
    expect(dump.replies[0]!.type === 'DUMP' && dump.replies[0]!.ext.keyEncrypt?.bits).toBe(256);
    const filtered = endpoint.handle({
      type: 'DUMP', satype: SADB_SATYPE.UNSPEC, errno: 0, seq: 9, pid: 100,
      ext: { filter: { saddr: new Uint8Array(16), daddr: Uint8Array.from([10, ...new Array(15).fill(0)]), family: 2, splen: 0, dplen: 8 } },
    }, 'km', 0);
    expect(filtered.replies.map((m) => m.errno)).toEqual([ERRNO.ENOENT]);
    expect(one(endpoint.handle({ type: 'DUMP', satype: 200, errno: 0, seq: 9, pid: 1, ext: {} }, 'km', 0)).errno).toBe(ERRNO.EINVAL);

    const del = { ...byKey(0x1001), type: 'DELETE' as const };
    const d = endpoint.handle(del, 'km', 0);
    expect(one(d)).toMatchObject({ type: 'DELETE', errno: 0, ext: { sa: { spi: 0x1001 } } });
    expect(d.broadcasts[0]!.to).toEqual(['other']);
    expect(one(endpoint.handle(del, 'km', 0)).errno).toBe(ERRNO.ESRCH);
    expect(one(endpoint.handle(byKey(0x1001), 'km', 0)).errno).toBe(ERRNO.ESRCH);

    const f = endpoint.handle({ type: 'FLUSH', satype: SADB_SATYPE.UNSPEC, errno: 0, seq: 10, pid: 100, ext: {} }, 'km', 0);
    expect(one(f)).toMatchObject({ type: 'FLUSH', errno: 0 });
    expect(f.broadcasts).toHaveLength(1);
    expect(sad.list()).toEqual([]);
    expect(one(endpoint.handle({ type: 'DUMP', satype: 0, errno: 0, seq: 11, pid: 100, ext: {} }, 'km', 0)).errno).toBe(ERRNO.ENOENT);
  });

  it('REGISTER records the listener and answers with our suites; twice is EEXIST', () => {
    const { endpoint } = setup();
    const reg: PfKeyMessage = { type: 'REGISTER', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 100, ext: {} };
    const r = one(endpoint.handle(reg, 'km', 0));
    expect(r.type === 'REGISTER' && r.ext.supportedEncrypt!.algs.map((a) => a.id)).toEqual(PFKEY_ENCR_ALGS.map((a) => a.sadb));
    expect(r.type === 'REGISTER' && r.ext.supportedAuth!.algs.map((a) => a.id)).toEqual(PFKEY_AUTH_ALGS.map((a) => a.sadb));
    expect(endpoint.registeredFor(SADB_SATYPE.ESP)).toEqual(['km']);
    expect(one(endpoint.handle(reg, 'km', 0)).errno).toBe(ERRNO.EEXIST);
    const second = endpoint.handle(reg, 'other', 0);
    expect(second.broadcasts).toEqual([{ to: ['km'], msg: second.replies[0] }]);
    endpoint.disconnect('km');
    expect(endpoint.registeredFor(SADB_SATYPE.ESP)).toEqual(['other']);
    expect(one(endpoint.handle({ ...reg, satype: 77 }, 'km', 0)).errno).toBe(ERRNO.EINVAL);
  });

  it('ACQUIRE goes to the listeners REGISTERed for its satype, with X_POLICY and a proposal of our suites', () => {
    const { endpoint } = setup();
    expect(endpoint.acquire({ protocol: 'esp', src: Uint8Array.from(SRC), dst: Uint8Array.from(DST) }).broadcasts).toEqual([]);
    endpoint.handle({ type: 'REGISTER', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 1, ext: {} }, 'km', 0);
    endpoint.handle({ type: 'REGISTER', satype: SADB_SATYPE.AH, errno: 0, seq: 1, pid: 1, ext: {} }, 'other', 0);
    const { seq, broadcasts } = endpoint.acquire({ protocol: 'esp', src: Uint8Array.from(SRC), dst: Uint8Array.from(DST), policy: { id: 0x49, priority: 7 } });
    expect(broadcasts).toHaveLength(1);
    expect(broadcasts[0]!.to).toEqual(['km']);
    const m = broadcasts[0]!.msg;
    expect(m).toMatchObject({ type: 'ACQUIRE', seq, satype: 3, ext: { policy: { id: 0x49, priority: 7, dir: 2, policyType: 2 } } });
    const combs = m.type === 'ACQUIRE' ? m.ext.proposal!.combs : [];
    expect(combs.some((c) => c.encrypt === SADB_EALG.X_AES_GCM_ICV16 && c.auth === 0)).toBe(true);
    expect(combs.some((c) => c.encrypt === SADB_EALG.X_AESCBC && c.auth === SADB_AALG.X_SHA2_256HMAC)).toBe(true);
    const wire = decodePfKey(encodePfKey(m));
    expect(wire.ok && wire.msg).toEqual(m);
    expect(endpoint.acquire({ protocol: 'esp', src: Uint8Array.from(SRC), dst: Uint8Array.from(DST) }).seq).toBe(seq + 1);
  });

  it('tick: soft EXPIRE marks the SA DYING, hard EXPIRE removes it, a stale LARVAL SA goes silently', () => {
    const { sad, endpoint } = setup();
    endpoint.handle({ type: 'REGISTER', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 1, ext: {} }, 'km', 0);
    one(endpoint.handle(update(0x3003, { lifetimeSoft: lifetime(10n), lifetimeHard: lifetime(20n) }, 'ADD'), 'other', 0));
    one(endpoint.handle(getspi(), 'other', 0));
    expect(endpoint.tick(9_999)).toEqual([]);
    const soft = endpoint.tick(10_000);
    expect(soft).toHaveLength(1);
    expect(soft[0]!.to).toEqual(['km']);
    expect(soft[0]!.msg).toMatchObject({ type: 'EXPIRE', seq: 0, pid: 0, ext: { sa: { spi: 0x3003, state: SADB_SASTATE.DYING }, lifetimeSoft: { addtime: 10n } } });
    expect(soft[0]!.msg.type === 'EXPIRE' && 'lifetimeHard' in soft[0]!.msg.ext).toBe(false);
    expect(endpoint.tick(15_000)).toEqual([]); // soft fires once
    const hard = endpoint.tick(20_000);
    expect(hard[0]!.msg).toMatchObject({ type: 'EXPIRE', ext: { lifetimeHard: { addtime: 20n }, lifetimeCurrent: {} } });
    expect(sad.list().map((s) => s.state)).toEqual(['larval']);
    endpoint.tick(30_000);
    expect(sad.list()).toEqual([]);
  });

  it('byte and packet limits expire too', () => {
    const { sad, endpoint } = setup();
    endpoint.handle({ type: 'REGISTER', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 1, ext: {} }, 'km', 0);
    one(endpoint.handle(update(0x3004, { lifetimeSoft: { allocations: 0, bytes: 1000n, addtime: 0n, usetime: 0n }, lifetimeHard: { allocations: 10, bytes: 0n, addtime: 0n, usetime: 0n } }, 'ADD'), 'km', 0));
    const key = { spi: 0x3004, dst: Uint8Array.from(DST), protocol: 'esp' as const };
    sad.recordUse(key, 5, 1000, 1);
    expect(endpoint.tick(2).map((b) => b.msg.type === 'EXPIRE' && Object.keys(b.msg.ext))).toEqual([expect.arrayContaining(['lifetimeSoft', 'lifetimeCurrent'])]);
    sad.recordUse(key, 5, 10, 3);
    expect(endpoint.tick(4)).toHaveLength(1);
    expect(sad.list()).toEqual([]);
  });

  it('types it does not serve get EOPNOTSUPP; a bare ACQUIRE error report gets no reply', () => {
    const { endpoint } = setup();
    const spd: PfKeyMessage = { type: 'X_SPDADD', satype: 0, errno: 0, seq: 1, pid: 1, ext: {} };
    expect(one(endpoint.handle(spd, 'km', 0))).toEqual({ ...spd, errno: ERRNO.EOPNOTSUPP });
    expect(one(endpoint.handle({ type: 'X_PROMISC', satype: 1, errno: 0, seq: 1, pid: 1, ext: {}, payload: new Uint8Array(0) }, 'km', 0)).errno).toBe(ERRNO.EOPNOTSUPP);
    expect(endpoint.handle({ type: 'ACQUIRE', satype: 3, errno: ERRNO.ENOENT, seq: 5, pid: 1, ext: {} }, 'km', 0)).toEqual({ replies: [], broadcasts: [] });
  });

  it('handleBytes: undecodable input gets a bare error reply (EMSGSIZE for length, EINVAL otherwise), short input none', () => {
    const { endpoint } = setup();
    const good = encodePfKey(getspi());
    const longer = Uint8Array.from([...good, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r1 = endpoint.handleBytes(longer, 'km', 0);
    expect(r1.decodeError?.code).toBe('lengthMismatch');
    expect(r1.replies).toHaveLength(1);
    expect(decodePfKey(r1.replies[0]!)).toMatchObject({ ok: true, msg: { type: 'GETSPI', errno: ERRNO.EMSGSIZE, seq: 1, pid: 100, ext: {} } });
    const dup = Uint8Array.from([...good, ...good.subarray(16, 32)]);
    new DataView(dup.buffer).setUint16(4, dup.length / 8, true);
    const r2 = endpoint.handleBytes(dup, 'km', 0);
    expect(r2.decodeError?.code).toBe('duplicateExtension');
    expect(decodePfKey(r2.replies[0]!)).toMatchObject({ ok: true, msg: { errno: ERRNO.EINVAL } });
    expect(endpoint.handleBytes(good.subarray(0, 12), 'km', 0)).toMatchObject({ replies: [], broadcasts: [] });
  });

  it('any decodable message from any client: never throws, every reply and broadcast encodes', () => {
    const { sad, endpoint } = setup();
    fc.assert(
      fc.property(arbMessage, fc.constantFrom('km', 'other', 'third'), (m, from) => {
        const out = endpoint.handle(m, from, 1_000);
        for (const r of out.replies) expect(decodePfKey(encodePfKey(r)).ok).toBe(true);
        for (const b of out.broadcasts) expect(decodePfKey(encodePfKey(b.msg)).ok).toBe(true);
        endpoint.tick(1_000 + sad.list().length * 1000);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
