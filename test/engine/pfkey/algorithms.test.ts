/** The SADB ↔ IKEv2 algorithm table: every entry keys an SA with every key size its transform has. */

import { describe, expect, it } from 'vitest';
import { ENCR_SPECS } from '../../../engine/crypto/suites.js';
import { ENCR } from '../../../engine/crypto/transformIds.js';
import { authKeyOctets, encrBySadb, PFKEY_AUTH_ALGS, PFKEY_ENCR_ALGS } from '../../../engine/pfkey/algorithms.js';
import { SADB_AALG, SADB_EALG, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { PfKeyEndpoint } from '../../../engine/pfkey/endpoint.js';
import { memorySadPort } from '../../../engine/pfkey/memorySadPort.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';

describe('PF_KEY algorithm table', () => {
  it('maps pfkeyv2.h numbers to IKEv2 transform ids', () => {
    expect(PFKEY_ENCR_ALGS.map((a) => [a.sadb, a.transform])).toEqual([
      [SADB_EALG.NULL, ENCR.NULL],
      [SADB_EALG.X_AESCBC, ENCR.AES_CBC],
      [SADB_EALG.X_AESCTR, ENCR.AES_CTR],
      [SADB_EALG.X_AES_GCM_ICV16, ENCR.AES_GCM_16],
      [SADB_EALG.X_NULL_AES_GMAC, ENCR.NULL_AUTH_AES_GMAC],
    ]);
    expect(PFKEY_AUTH_ALGS.map((a) => [a.sadb, a.transform])).toEqual([[2, 1], [3, 2], [5, 12], [6, 13], [7, 14]]);
    expect(encrBySadb(SADB_EALG['3DESCBC'])).toBeUndefined();
  });

  it('ADD then GET keeps algorithm and key for every encryption × integrity × key size', () => {
    const sad = memorySadPort();
    const endpoint = new PfKeyEndpoint({ sad, random: () => 0 });
    let spi = 0x1000;
    for (const e of PFKEY_ENCR_ALGS) {
      const spec = ENCR_SPECS[e.transform];
      const auths = spec.combinedIcv !== undefined ? [undefined] : e.transform === ENCR.NULL ? PFKEY_AUTH_ALGS : [undefined, ...PFKEY_AUTH_ALGS];
      for (const keyBits of spec.keyBits) {
        for (const a of auths) {
          spi++;
          const encKey = Uint8Array.from({ length: keyBits / 8 + e.saltOctets }, (_, i) => i ^ spi);
          const authKey = a && Uint8Array.from({ length: authKeyOctets(a) }, (_, i) => 255 - i);
          const add: PfKeyMessage = {
            type: 'ADD', satype: SADB_SATYPE.ESP, errno: 0, seq: spi, pid: 1,
            ext: {
              sa: { spi, replay: 32, state: 1, auth: a?.sadb ?? SADB_AALG.NONE, encrypt: e.sadb, flags: 0 },
              addressSrc: { proto: 0, prefixlen: 32, addr: inet([10, 0, 0, 1]) },
              addressDst: { proto: 0, prefixlen: 32, addr: inet([10, 0, 0, 2]) },
              ...(authKey ? { keyAuth: { bits: authKey.length * 8, key: authKey } } : {}),
              keyEncrypt: { bits: encKey.length * 8, key: encKey },
            },
          };
          const label = `${e.sadb}/${a?.sadb ?? 0}/${keyBits}`;
          expect(endpoint.handle(add, 'km', 0).replies[0]!.errno, label).toBe(0);
          expect(sad.list().at(-1), label).toMatchObject({ encr: { transform: e.transform, keyBits, key: encKey }, ...(a ? { integ: { transform: a.transform, key: authKey } } : {}) });
          const get = endpoint.handle({ ...add, type: 'GET', ext: { sa: add.ext.sa!, addressSrc: add.ext.addressSrc!, addressDst: add.ext.addressDst! } } as PfKeyMessage, 'km', 0).replies[0]!;
          expect(get.type === 'GET' && [get.ext.sa!.encrypt, get.ext.sa!.auth, get.ext.keyEncrypt?.key, get.ext.keyAuth?.key], label).toEqual([e.sadb, a?.sadb ?? 0, encKey.length ? encKey : undefined, authKey]); // NULL: no key, no KEY_ENCRYPT (as Linux)
        }
      }
    }
    expect(sad.list().length).toBeGreaterThan(40);
  });
});
