/** PF_KEY drives the real SAD: keys arriving in UPDATE become an SA the data path decapsulates with. */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { decapsulate } from '../../../engine/esp/decapsulate.js';
import { encapsulate } from '../../../engine/esp/encapsulate.js';
import { createEspSa } from '../../../engine/esp/espSa.js';
import { sequenceIv } from '../../../engine/esp/ivSource.js';
import { IPSEC_MODE, SADB_AALG, SADB_EALG, SADB_SASTATE, SADB_SATYPE } from '../../../engine/pfkey/constants.js';
import { PfKeyEndpoint } from '../../../engine/pfkey/endpoint.js';
import { sadPfKeyPort } from '../../../engine/pfkey/sadAdapter.js';
import { inet } from '../../../engine/pfkey/sockaddr.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';
import { Sad } from '../../../engine/sad/sad.js';
import { innerPacket, V4_A, V4_B } from '../esp/fixtures.js';

const addrs = { addressSrc: { proto: 0, prefixlen: 32, addr: inet([...V4_A]) }, addressDst: { proto: 0, prefixlen: 32, addr: inet([...V4_B]) } };
const encKey = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const authKey = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
const lifetime = (addtime: bigint) => ({ allocations: 0, bytes: 0n, addtime, usetime: 0n });

function setup() {
  const sad = new Sad();
  let s = 99;
  const endpoint = new PfKeyEndpoint({ sad: sadPfKeyPort({ sad, isLocal: (a) => toHex(a) === toHex(V4_B) }), random: (n) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % n) });
  endpoint.connect('km');
  return { sad, endpoint };
}

describe('PF_KEY over the real SAD', () => {
  it('GETSPI → UPDATE (AES-CBC + HMAC-SHA-256) → packets decapsulate → DELETE → unknownSpi', () => {
    const { sad, endpoint } = setup();
    const getspi = endpoint.handle({ type: 'GETSPI', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 7, ext: { sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 3 }, ...addrs, spiRange: { min: 0x4000, max: 0x4fff } } } as PfKeyMessage, 'km', 0);
    const reply = getspi.replies[0]!;
    const spi = reply.type === 'GETSPI' ? reply.ext.sa!.spi : 0;
    expect(reply.errno).toBe(0);
    expect(sad.findInbound(spi, V4_B, 'esp')).toMatchObject({ direction: 'inbound', sa: undefined, policyId: 'reqid-3' }); // larval
    const update = endpoint.handle({
      type: 'UPDATE', satype: SADB_SATYPE.ESP, errno: 0, seq: 2, pid: 7,
      ext: {
        sa: { spi, replay: 8, state: SADB_SASTATE.MATURE, auth: SADB_AALG.X_SHA2_256HMAC, encrypt: SADB_EALG.X_AESCBC, flags: 0 },
        lifetimeHard: lifetime(3600n), lifetimeSoft: lifetime(3000n), ...addrs,
        keyAuth: { bits: 256, key: authKey }, keyEncrypt: { bits: 128, key: encKey },
        sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 3 },
      },
    } as PfKeyMessage, 'km', 1000);
    expect(update.replies[0]?.errno).toBe(0);
    const entry = sad.findInbound(spi, V4_B, 'esp')!;
    expect(entry.lifetimes).toEqual({ soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } });
    expect(entry.sa?.replay?.size).toBe(32); // sadb_sa_replay 8 is below RFC 4303's minimum: rounded up

    // The peer's outbound SA with the same keys; our SAD decapsulates what it sends.
    const peer = createEspSa({ id: 'peer', direction: 'outbound', spi, mode: 'tunnel', tunnel: { src: V4_A, dst: V4_B }, suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, keys: { encKey, integKey: authKey } });
    const inner = innerPacket(4, Uint8Array.from({ length: 100 }, (_, i) => i));
    const sealed = encapsulate(inner, peer, () => {});
    if (!sealed.ok) throw new Error(sealed.reason);
    const opened = decapsulate(sealed.packet.slice(), sad.espLookup);
    expect(opened.ok && toHex(opened.packet)).toBe(toHex(inner));
    expect(endpoint.handle({ type: 'GET', satype: SADB_SATYPE.ESP, errno: 0, seq: 3, pid: 7, ext: { sa: { spi, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 }, ...addrs } } as PfKeyMessage, 'km', 2000).replies[0]).toMatchObject({ errno: 0, ext: { lifetimeCurrent: { allocations: 1 } } });

    expect(endpoint.handle({ type: 'DELETE', satype: SADB_SATYPE.ESP, errno: 0, seq: 4, pid: 7, ext: { sa: { spi, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 }, ...addrs } } as PfKeyMessage, 'km', 3000).replies[0]?.errno).toBe(0);
    const drops = new DropCounters();
    const again = encapsulate(inner, peer, sequenceIv);
    if (!again.ok) throw new Error(again.reason);
    expect(decapsulate(again.packet, sad.espLookup, drops).ok).toBe(false);
    expect(drops.global.unknownSpi).toBe(1);
    expect(sad.size).toBe(0);
  });

  it('a key of the wrong size is refused with EINVAL and leaves the SAD as it was', () => {
    const { sad, endpoint } = setup();
    const r = endpoint.handle({
      type: 'ADD', satype: SADB_SATYPE.ESP, errno: 0, seq: 1, pid: 7,
      ext: { sa: { spi: 0x5000, replay: 64, state: SADB_SASTATE.MATURE, auth: SADB_AALG.NONE, encrypt: SADB_EALG.X_AES_GCM_ICV16, flags: 0 }, ...addrs, keyEncrypt: { bits: 152, key: new Uint8Array(19) }, sa2: { mode: IPSEC_MODE.TUNNEL, sequence: 0, reqid: 0 } },
    } as PfKeyMessage, 'km', 0);
    expect(r.replies[0]?.errno).not.toBe(0);
    expect(sad.size).toBe(0);
  });
});
