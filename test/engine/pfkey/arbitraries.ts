/** fast-check arbitraries for PF_KEY messages: every type, any allowed extensions, any order. */

import { fc } from '@fast-check/vitest';
import { PFKEY_MSG_TYPES, type PfKeyMsgType } from '../../../engine/pfkey/constants.js';
import { ALLOWED_EXTENSIONS, type ExtKey, type PfKeyExtensions, type PfKeyMessage, type SockAddr } from '../../../engine/pfkey/types.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const nonZeroU32 = fc.integer({ min: 1, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const words = (max: number) => fc.integer({ min: 0, max }).chain((n) => bytes(8 * n));

export const arbSockAddr = (family?: 'inet' | 'inet6'): fc.Arbitrary<SockAddr> => {
  const v4 = fc.record({ family: fc.constant('inet' as const), address: bytes(4), port: u16 });
  const v6 = fc.record(
    { family: fc.constant('inet6' as const), address: bytes(16), port: u16, flowinfo: nonZeroU32, scopeId: nonZeroU32 },
    { requiredKeys: ['family', 'address', 'port'] },
  );
  return family === 'inet' ? v4 : family === 'inet6' ? v6 : fc.oneof(v4, v6);
};
const arbPair = fc.constantFrom('inet' as const, 'inet6' as const).chain((f) => fc.tuple(arbSockAddr(f), arbSockAddr(f)));

const arbAddress = arbSockAddr().chain((addr) =>
  fc.record({ proto: u8, prefixlen: fc.integer({ min: 0, max: addr.family === 'inet' ? 32 : 128 }), addr: fc.constant(addr) }),
);
const arbLifetime = fc.record({ allocations: u32, bytes: u64, addtime: u64, usetime: u64 });
const arbKey = fc.integer({ min: 0, max: 1024 }).chain((bits) => fc.record({ bits: fc.constant(bits), key: bytes(Math.ceil(bits / 8)) }));
const arbIdentity = fc.record({
  identType: u16,
  id: u64,
  identity: fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 40 }).map((a) => Uint8Array.from(a)),
});
const arbComb = fc.record({
  auth: u8, encrypt: u8, flags: u16, authMinbits: u16, authMaxbits: u16, encryptMinbits: u16, encryptMaxbits: u16,
  softAllocations: u32, hardAllocations: u32, softBytes: u64, hardBytes: u64,
  softAddtime: u64, hardAddtime: u64, softUsetime: u64, hardUsetime: u64,
});
const arbSupported = fc.record({ algs: fc.array(fc.record({ id: u8, ivlen: u8, minbits: u16, maxbits: u16 }), { maxLength: 6 }) });
const arbRequest = fc.record(
  { proto: u16, mode: u8, level: u8, reqid: u32, addresses: arbPair.map(([src, dst]) => ({ src, dst })) },
  { requiredKeys: ['proto', 'mode', 'level', 'reqid'] },
);
const arbPort = fc.record({ port: u16 });

export const EXT_ARBS: { [K in ExtKey]: fc.Arbitrary<PfKeyExtensions[K]> } = {
  sa: fc.record({ spi: u32, replay: u8, state: u8, auth: u8, encrypt: u8, flags: u32 }),
  lifetimeCurrent: arbLifetime,
  lifetimeHard: arbLifetime,
  lifetimeSoft: arbLifetime,
  addressSrc: arbAddress,
  addressDst: arbAddress,
  addressProxy: arbAddress,
  keyAuth: arbKey,
  keyEncrypt: arbKey,
  identitySrc: arbIdentity,
  identityDst: arbIdentity,
  sensitivity: fc.record({
    dpd: u32, sensLevel: u8, integLevel: u8,
    sensBitmap: fc.array(u64, { maxLength: 4 }), integBitmap: fc.array(u64, { maxLength: 4 }),
  }),
  proposal: fc.record({ replay: u8, combs: fc.array(arbComb, { maxLength: 3 }) }),
  supportedAuth: arbSupported,
  supportedEncrypt: arbSupported,
  spiRange: fc.record({ min: u32, max: u32 }),
  kmPrivate: fc.record({ data: words(4) }),
  policy: fc.record({ policyType: u16, dir: u8, id: u32, priority: u32, requests: fc.array(arbRequest, { maxLength: 3 }) }),
  sa2: fc.record({ mode: u8, sequence: u32, reqid: u32 }),
  natTType: fc.record({ encapType: u8 }),
  natTSport: arbPort,
  natTDport: arbPort,
  natTOa: arbAddress,
  secCtx: fc.record({ alg: u8, doi: u8, context: fc.uint8Array({ maxLength: 48 }) }),
  kmAddress: fc.tuple(arbPair, fc.option(nonZeroU32, { nil: undefined })).map(([[local, remote], reserved]) => ({
    ...(reserved !== undefined ? { reserved } : {}),
    local,
    remote,
  })),
  filter: fc.record({ saddr: bytes(16), daddr: bytes(16), family: u16, splen: u8, dplen: u8 }),
};

const arbHeader = fc.record(
  { satype: u8, errno: u8, seq: u32, pid: u32, reserved: fc.integer({ min: 1, max: 0xffff }) },
  { requiredKeys: ['satype', 'errno', 'seq', 'pid'] },
);

/** A message of type `type` with a random subset of its allowed extensions in random order. */
export function arbMessageOf(type: PfKeyMsgType): fc.Arbitrary<PfKeyMessage> {
  if (type === 'X_PROMISC') return fc.tuple(arbHeader, words(6)).map(([h, payload]) => ({ ...h, type, ext: {}, payload }));
  const allowed = ALLOWED_EXTENSIONS[type] as readonly ExtKey[];
  return fc.tuple(arbHeader, fc.shuffledSubarray([...allowed])).chain(([h, keys]) =>
    fc.tuple(...keys.map((k) => EXT_ARBS[k] as fc.Arbitrary<unknown>)).map((values) => {
      const ext: Record<string, unknown> = {};
      keys.forEach((k, i) => (ext[k] = values[i]));
      return { ...h, type, ext } as PfKeyMessage;
    }),
  );
}

/** Any message of any type. */
export const arbMessage: fc.Arbitrary<PfKeyMessage> = fc.constantFrom(...PFKEY_MSG_TYPES).chain(arbMessageOf);
