/**
 * Byte-exact encodings, assembled by hand from the pfkeyv2.h layouts (host order = little-endian):
 * - a GETSPI request exactly as ipsec-tools' libipsec `pfkey_send_getspi` builds it
 *   (base | X_SA2 | ADDRESS_SRC | ADDRESS_DST | SPIRANGE, proto IPSEC_ULPROTO_ANY, full prefix);
 * - an ACQUIRE as Linux af_key.c `pfkey_send_acquire` builds it (base | ADDRESS_SRC |
 *   ADDRESS_DST | X_POLICY | PROPOSAL with one ESP comb and the kernel's default lifetimes);
 * - an X_SPDADD with a tunnel-mode ipsecrequest as setkey's `spdadd ... -P out ipsec
 *   esp/tunnel/A-B/require` sends it (request length in OCTETS, sockaddr pair after it);
 * - an error reply (base only, sadb_msg_errno set) as af_key.c `pfkey_error` sends it.
 * Each is encoded from its object and decoded back from the octets.
 */

import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { IPSEC_DIR, IPSEC_LEVEL, IPSEC_MODE, IPSEC_POLICY, IPSEC_ULPROTO_ANY, SADB_AALG, SADB_EALG, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';

interface Case {
  name: string;
  msg: PfKeyMessage;
  hex: string;
}

const CASES: Case[] = [
  {
    name: 'GETSPI as libipsec pfkey_send_getspi sends it',
    msg: {
      type: 'GETSPI',
      satype: SADB_SATYPE.ESP,
      errno: 0,
      seq: 1,
      pid: 4242,
      ext: {
        sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 16 },
        addressSrc: { proto: IPSEC_ULPROTO_ANY, prefixlen: 32, addr: inet([192, 0, 2, 1]) },
        addressDst: { proto: IPSEC_ULPROTO_ANY, prefixlen: 32, addr: inet([198, 51, 100, 7]) },
        spiRange: { min: 0x100, max: 0x0fffffff },
      },
    },
    hex: `
      02 01 00 03  0c 00 00 00  01 00 00 00  92 10 00 00
      02 00 13 00  02 00 00 00  00 00 00 00  10 00 00 00
      03 00 05 00  ff 20 00 00  02 00 00 00  c0 00 02 01  00 00 00 00 00 00 00 00
      03 00 06 00  ff 20 00 00  02 00 00 00  c6 33 64 07  00 00 00 00 00 00 00 00
      02 00 10 00  00 01 00 00  ff ff ff 0f  00 00 00 00`,
  },
  {
    name: 'ACQUIRE with X_POLICY and a PROPOSAL as af_key.c pfkey_send_acquire sends it',
    msg: {
      type: 'ACQUIRE',
      satype: SADB_SATYPE.ESP,
      errno: 0,
      seq: 0x2a,
      pid: 0,
      ext: {
        addressSrc: { proto: 0, prefixlen: 32, addr: inet([10, 0, 0, 1]) },
        addressDst: { proto: 0, prefixlen: 32, addr: inet([10, 0, 1, 1]) },
        policy: { policyType: IPSEC_POLICY.IPSEC, dir: IPSEC_DIR.OUTBOUND, id: 0x109, priority: 0, requests: [] },
        proposal: {
          replay: 32,
          combs: [
            {
              auth: SADB_AALG.X_SHA2_256HMAC, encrypt: SADB_EALG.X_AESCBC, flags: 0,
              authMinbits: 256, authMaxbits: 256, encryptMinbits: 128, encryptMaxbits: 256,
              softAllocations: 0, hardAllocations: 0, softBytes: 0n, hardBytes: 0n,
              softAddtime: 20n * 60n * 60n, hardAddtime: 24n * 60n * 60n, softUsetime: 7n * 60n * 60n, hardUsetime: 8n * 60n * 60n,
            },
          ],
        },
      },
    },
    hex: `
      02 06 00 03  14 00 00 00  2a 00 00 00  00 00 00 00
      03 00 05 00  00 20 00 00  02 00 00 00  0a 00 00 01  00 00 00 00 00 00 00 00
      03 00 06 00  00 20 00 00  02 00 00 00  0a 00 01 01  00 00 00 00 00 00 00 00
      02 00 12 00  02 00 02 00  09 01 00 00  00 00 00 00
      0a 00 0d 00  20 00 00 00
        05 0c 00 00  00 01 00 01  80 00 00 01  00 00 00 00
        00 00 00 00  00 00 00 00
        00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
        40 19 01 00 00 00 00 00   80 51 01 00 00 00 00 00
        70 62 00 00 00 00 00 00   80 70 00 00 00 00 00 00`,
  },
  {
    name: 'X_SPDADD with a tunnel ipsecrequest as setkey spdadd sends it',
    msg: {
      type: 'X_SPDADD',
      satype: SADB_SATYPE.UNSPEC,
      errno: 0,
      seq: 3,
      pid: 777,
      ext: {
        addressSrc: { proto: IPSEC_ULPROTO_ANY, prefixlen: 24, addr: inet([10, 0, 0, 0]) },
        addressDst: { proto: IPSEC_ULPROTO_ANY, prefixlen: 24, addr: inet([10, 0, 1, 0]) },
        policy: {
          policyType: IPSEC_POLICY.IPSEC,
          dir: IPSEC_DIR.OUTBOUND,
          id: 0,
          priority: 0,
          requests: [
            {
              proto: 50,
              mode: IPSEC_MODE.TUNNEL,
              level: IPSEC_LEVEL.REQUIRE,
              reqid: 0,
              addresses: { src: inet([192, 0, 2, 1]), dst: inet([198, 51, 100, 7]) },
            },
          ],
        },
      },
    },
    hex: `
      02 0e 00 00  10 00 00 00  03 00 00 00  09 03 00 00
      03 00 05 00  ff 18 00 00  02 00 00 00  0a 00 00 00  00 00 00 00 00 00 00 00
      03 00 06 00  ff 18 00 00  02 00 00 00  0a 00 01 00  00 00 00 00 00 00 00 00
      08 00 12 00  02 00 02 00  00 00 00 00  00 00 00 00
        30 00 32 00  02 02 00 00  00 00 00 00  00 00 00 00
        02 00 00 00  c0 00 02 01  00 00 00 00 00 00 00 00
        02 00 00 00  c6 33 64 07  00 00 00 00 00 00 00 00`,
  },
  {
    name: 'error reply (EINVAL) as af_key.c pfkey_error sends it',
    msg: { type: 'UPDATE', satype: SADB_SATYPE.ESP, errno: 22, seq: 9, pid: 4242, ext: {} },
    hex: `02 02 16 03  02 00 00 00  09 00 00 00  92 10 00 00`,
  },
];

describe('byte-exact PF_KEY encodings', () => {
  for (const c of CASES) {
    it(`${c.name}: encode`, () => {
      expect(toHex(encodePfKey(c.msg))).toBe(toHex(fromHex(c.hex)));
    });
    it(`${c.name}: decode`, () => {
      const r = decodePfKey(fromHex(c.hex));
      expect(r.ok ? r.msg : r.error).toEqual(c.msg);
    });
  }

  it('an inet6 address extension is (8 + ALIGN8(28)) / 8 = 5 words with 4 octets of zero padding', () => {
    const b = encodePfKey({
      type: 'DELETE', satype: 3, errno: 0, seq: 0, pid: 0,
      ext: { addressDst: { proto: 0, prefixlen: 128, addr: { family: 'inet6', address: fromHex('20010db8000000000000000000000001'), port: 0 } } },
    });
    expect(toHex(b.subarray(16))).toBe(
      '0500060000800000' + '0a00000000000000' + '20010db8000000000000000000000001' + '00000000' + '00000000',
    );
  });

  it('writes extensions in the order of the ext object (so a decoded message re-encodes identically)', () => {
    const bytes = fromHex(CASES[0]!.hex);
    const r = decodePfKey(bytes);
    expect(r.ok && Object.keys(r.msg.ext)).toEqual(['sa2', 'addressSrc', 'addressDst', 'spiRange']);
    expect(r.ok && toHex(encodePfKey(r.msg))).toBe(toHex(bytes));
  });
});
