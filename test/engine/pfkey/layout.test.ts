/**
 * Sizes and field offsets of every PF_KEY struct, checked against a transcription of the
 * declarations in Linux `include/uapi/linux/pfkeyv2.h` (torvalds/linux, commit
 * 30c0923370175a01a806b23d797f1d9f2f3e4f40), `struct sockaddr_in` from
 * `include/uapi/linux/in.h` and `struct sockaddr_in6` from `include/uapi/linux/in6.h`.
 * All are `__attribute__((packed))` (the sockaddrs are naturally aligned), so a field's offset is
 * the sum of the widths before it; each `sizeof` is the one the header states in its comment.
 * The sockaddr members are written with their widths (`__kernel_sa_family_t` as __u16,
 * `struct in_addr` as __u8[4], `struct in6_addr` as __u8[16], `__pad` as __u8[8]).
 * Then a probe: the encoder, given distinct values per field, must put each one at that offset
 * in that byte order.
 */

import { describe, expect, it } from 'vitest';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { PFKEY_STRUCTS, type FieldType } from '../../../engine/pfkey/layout.js';
import type { PfKeyMessage } from '../../../engine/pfkey/types.js';

/** The struct bodies as pfkeyv2.h declares them, with the header's "sizeof == N" comment. */
const HEADER = `
struct sadb_msg { __u8 sadb_msg_version; __u8 sadb_msg_type; __u8 sadb_msg_errno; __u8 sadb_msg_satype;
  __u16 sadb_msg_len; __u16 sadb_msg_reserved; __u32 sadb_msg_seq; __u32 sadb_msg_pid; } /* == 16 */
struct sadb_ext { __u16 sadb_ext_len; __u16 sadb_ext_type; } /* == 4 */
struct sadb_sa { __u16 sadb_sa_len; __u16 sadb_sa_exttype; __be32 sadb_sa_spi; __u8 sadb_sa_replay;
  __u8 sadb_sa_state; __u8 sadb_sa_auth; __u8 sadb_sa_encrypt; __u32 sadb_sa_flags; } /* == 16 */
struct sadb_lifetime { __u16 sadb_lifetime_len; __u16 sadb_lifetime_exttype; __u32 sadb_lifetime_allocations;
  __u64 sadb_lifetime_bytes; __u64 sadb_lifetime_addtime; __u64 sadb_lifetime_usetime; } /* == 32 */
struct sadb_address { __u16 sadb_address_len; __u16 sadb_address_exttype; __u8 sadb_address_proto;
  __u8 sadb_address_prefixlen; __u16 sadb_address_reserved; } /* == 8 */
struct sadb_key { __u16 sadb_key_len; __u16 sadb_key_exttype; __u16 sadb_key_bits; __u16 sadb_key_reserved; } /* == 8 */
struct sadb_ident { __u16 sadb_ident_len; __u16 sadb_ident_exttype; __u16 sadb_ident_type;
  __u16 sadb_ident_reserved; __u64 sadb_ident_id; } /* == 16 */
struct sadb_sens { __u16 sadb_sens_len; __u16 sadb_sens_exttype; __u32 sadb_sens_dpd; __u8 sadb_sens_sens_level;
  __u8 sadb_sens_sens_len; __u8 sadb_sens_integ_level; __u8 sadb_sens_integ_len; __u32 sadb_sens_reserved; } /* == 16 */
struct sadb_prop { __u16 sadb_prop_len; __u16 sadb_prop_exttype; __u8 sadb_prop_replay; __u8 sadb_prop_reserved[3]; } /* == 8 */
struct sadb_comb { __u8 sadb_comb_auth; __u8 sadb_comb_encrypt; __u16 sadb_comb_flags; __u16 sadb_comb_auth_minbits;
  __u16 sadb_comb_auth_maxbits; __u16 sadb_comb_encrypt_minbits; __u16 sadb_comb_encrypt_maxbits;
  __u32 sadb_comb_reserved; __u32 sadb_comb_soft_allocations; __u32 sadb_comb_hard_allocations;
  __u64 sadb_comb_soft_bytes; __u64 sadb_comb_hard_bytes; __u64 sadb_comb_soft_addtime;
  __u64 sadb_comb_hard_addtime; __u64 sadb_comb_soft_usetime; __u64 sadb_comb_hard_usetime; } /* == 72 */
struct sadb_supported { __u16 sadb_supported_len; __u16 sadb_supported_exttype; __u32 sadb_supported_reserved; } /* == 8 */
struct sadb_alg { __u8 sadb_alg_id; __u8 sadb_alg_ivlen; __u16 sadb_alg_minbits; __u16 sadb_alg_maxbits;
  __u16 sadb_alg_reserved; } /* == 8 */
struct sadb_spirange { __u16 sadb_spirange_len; __u16 sadb_spirange_exttype; __u32 sadb_spirange_min;
  __u32 sadb_spirange_max; __u32 sadb_spirange_reserved; } /* == 16 */
struct sadb_x_kmprivate { __u16 sadb_x_kmprivate_len; __u16 sadb_x_kmprivate_exttype; __u32 sadb_x_kmprivate_reserved; } /* == 8 */
struct sadb_x_sa2 { __u16 sadb_x_sa2_len; __u16 sadb_x_sa2_exttype; __u8 sadb_x_sa2_mode; __u8 sadb_x_sa2_reserved1;
  __u16 sadb_x_sa2_reserved2; __u32 sadb_x_sa2_sequence; __u32 sadb_x_sa2_reqid; } /* == 16 */
struct sadb_x_policy { __u16 sadb_x_policy_len; __u16 sadb_x_policy_exttype; __u16 sadb_x_policy_type;
  __u8 sadb_x_policy_dir; __u8 sadb_x_policy_reserved; __u32 sadb_x_policy_id; __u32 sadb_x_policy_priority; } /* == 16 */
struct sadb_x_ipsecrequest { __u16 sadb_x_ipsecrequest_len; __u16 sadb_x_ipsecrequest_proto;
  __u8 sadb_x_ipsecrequest_mode; __u8 sadb_x_ipsecrequest_level; __u16 sadb_x_ipsecrequest_reserved1;
  __u32 sadb_x_ipsecrequest_reqid; __u32 sadb_x_ipsecrequest_reserved2; } /* == 16 */
struct sadb_x_nat_t_type { __u16 sadb_x_nat_t_type_len; __u16 sadb_x_nat_t_type_exttype; __u8 sadb_x_nat_t_type_type;
  __u8 sadb_x_nat_t_type_reserved[3]; } /* == 8 */
struct sadb_x_nat_t_port { __u16 sadb_x_nat_t_port_len; __u16 sadb_x_nat_t_port_exttype; __be16 sadb_x_nat_t_port_port;
  __u16 sadb_x_nat_t_port_reserved; } /* == 8 */
struct sadb_x_sec_ctx { __u16 sadb_x_sec_len; __u16 sadb_x_sec_exttype; __u8 sadb_x_ctx_alg; __u8 sadb_x_ctx_doi;
  __u16 sadb_x_ctx_len; } /* == 8 */
struct sadb_x_kmaddress { __u16 sadb_x_kmaddress_len; __u16 sadb_x_kmaddress_exttype; __u32 sadb_x_kmaddress_reserved; } /* == 8 */
struct sadb_x_filter { __u16 sadb_x_filter_len; __u16 sadb_x_filter_exttype; __u32 sadb_x_filter_saddr[4];
  __u32 sadb_x_filter_daddr[4]; __u16 sadb_x_filter_family; __u8 sadb_x_filter_splen; __u8 sadb_x_filter_dplen; } /* == 40 */
struct sockaddr_in { __u16 sin_family; __be16 sin_port; __u8 sin_addr[4]; __u8 __pad[8]; } /* == 16 */
struct sockaddr_in6 { __u16 sin6_family; __be16 sin6_port; __be32 sin6_flowinfo; __u8 sin6_addr[16]; __u32 sin6_scope_id; } /* == 28 */
`;

const WIDTH: Record<string, number> = { __u8: 1, __u16: 2, __be16: 2, __u32: 4, __be32: 4, __u64: 8 };

interface Transcribed {
  name: string;
  size: number;
  fields: { name: string; ctype: string; count: number; offset: number; width: number }[];
}

function transcribe(): Transcribed[] {
  const out: Transcribed[] = [];
  for (const m of HEADER.matchAll(/struct (\w+) \{([^}]*)\} \/\* == (\d+) \*\//g)) {
    let offset = 0;
    const fields = [];
    for (const decl of m[2]!.split(';').map((s) => s.trim()).filter(Boolean)) {
      const d = /^(\w+) (\w+)(?:\[(\d+)\])?$/.exec(decl);
      if (!d) throw new Error(`cannot read declaration '${decl}' of ${m[1]}`);
      const count = d[3] ? Number(d[3]) : 1;
      const width = WIDTH[d[1]!]! * count;
      fields.push({ name: d[2]!, ctype: d[1]!, count, offset, width });
      offset += width;
    }
    out.push({ name: m[1]!, size: Number(m[3]), fields });
  }
  return out;
}

/** Our field type for a C declaration: arrays are opaque bytes, `__u32 saddr[4]` included. */
function expectedType(ctype: string, count: number): FieldType {
  if (count > 1) return `bytes${WIDTH[ctype]! * count}`;
  return ({ __u8: 'u8', __u16: 'u16', __be16: 'be16', __u32: 'u32', __be32: 'be32', __u64: 'u64' } as const)[ctype as '__u8']!;
}

const STRUCTS = transcribe();

describe('PF_KEY struct layouts = linux/pfkeyv2.h', () => {
  it('transcribes all 24 structs and each packs to the size the header states', () => {
    expect(STRUCTS.map((s) => s.name).sort()).toEqual(Object.keys(PFKEY_STRUCTS).sort());
    for (const s of STRUCTS) {
      const last = s.fields.at(-1)!;
      expect(last.offset + last.width, s.name).toBe(s.size);
    }
  });

  for (const s of STRUCTS) {
    it(`${s.name}: sizeof ${s.size}, every field at its offset with its type`, () => {
      const ours = PFKEY_STRUCTS[s.name]!;
      expect(ours.size).toBe(s.size);
      expect(Object.keys(ours.fields)).toEqual(s.fields.map((f) => f.name));
      for (const f of s.fields) {
        expect(ours.fields[f.name], `${s.name}.${f.name}`).toEqual([f.offset, expectedType(f.ctype, f.count)]);
      }
    });
  }
});

// --- probe: the encoder writes each field where the header says -------------------------------

/** Reads a field of a struct at `base` as the header's C type says (host = little-endian). */
function read(bytes: Uint8Array, base: number, structName: string, field: string): number | bigint {
  const s = STRUCTS.find((x) => x.name === structName)!;
  const f = s.fields.find((x) => x.name === field)!;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = base + f.offset;
  switch (f.ctype) {
    case '__u8':
      return v.getUint8(at);
    case '__u16':
      return v.getUint16(at, true);
    case '__be16':
      return v.getUint16(at, false);
    case '__u32':
      return v.getUint32(at, true);
    case '__be32':
      return v.getUint32(at, false);
    default:
      return v.getBigUint64(at, true);
  }
}

describe('encoder field placement (probe with distinct values)', () => {
  it('sadb_msg, sadb_sa, sadb_lifetime, sadb_address + sockaddr_in6, sadb_key, sadb_x_sa2, NAT-T', () => {
    const msg: PfKeyMessage = {
      type: 'UPDATE',
      satype: 3,
      errno: 0x11,
      seq: 0x01020304,
      pid: 0x0a0b0c0d,
      reserved: 0x3132,
      ext: {
        sa: { spi: 0xc0ffee01, replay: 0x21, state: 0x01, auth: 0x05, encrypt: 0x0c, flags: 0x80000001 },
        lifetimeHard: { allocations: 0x41424344, bytes: 0x5152535455565758n, addtime: 0x6162636465666768n, usetime: 0x7172737475767778n },
        addressSrc: {
          proto: 0x06,
          prefixlen: 0x70,
          addr: { family: 'inet6', address: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i), port: 0x1234, flowinfo: 0x00056789, scopeId: 0x0badcafe },
        },
        keyEncrypt: { bits: 160, key: Uint8Array.from({ length: 20 }, (_, i) => i + 1) },
        sa2: { mode: 2, sequence: 0x99887766, reqid: 0x00001234 },
        natTSport: { port: 4500 },
      },
    };
    const b = encodePfKey(msg);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_version')).toBe(2);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_type')).toBe(2);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_errno')).toBe(0x11);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_satype')).toBe(3);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_len')).toBe(b.length / 8);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_reserved')).toBe(0x3132);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_seq')).toBe(0x01020304);
    expect(read(b, 0, 'sadb_msg', 'sadb_msg_pid')).toBe(0x0a0b0c0d);
    let at = 16;
    expect(read(b, at, 'sadb_sa', 'sadb_sa_len')).toBe(2);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_exttype')).toBe(1);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_spi')).toBe(0xc0ffee01);
    expect([...b.subarray(at + 4, at + 8)]).toEqual([0xc0, 0xff, 0xee, 0x01]); // network order
    expect(read(b, at, 'sadb_sa', 'sadb_sa_replay')).toBe(0x21);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_state')).toBe(1);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_auth')).toBe(5);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_encrypt')).toBe(12);
    expect(read(b, at, 'sadb_sa', 'sadb_sa_flags')).toBe(0x80000001);
    at += 16;
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_len')).toBe(4);
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_exttype')).toBe(3);
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_allocations')).toBe(0x41424344);
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_bytes')).toBe(0x5152535455565758n);
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_addtime')).toBe(0x6162636465666768n);
    expect(read(b, at, 'sadb_lifetime', 'sadb_lifetime_usetime')).toBe(0x7172737475767778n);
    at += 32;
    expect(read(b, at, 'sadb_address', 'sadb_address_len')).toBe(5); // (8 + ALIGN8(28)) / 8
    expect(read(b, at, 'sadb_address', 'sadb_address_exttype')).toBe(5);
    expect(read(b, at, 'sadb_address', 'sadb_address_proto')).toBe(6);
    expect(read(b, at, 'sadb_address', 'sadb_address_prefixlen')).toBe(0x70);
    expect(read(b, at, 'sadb_address', 'sadb_address_reserved')).toBe(0);
    const sin6 = at + 8;
    expect(read(b, sin6, 'sockaddr_in6', 'sin6_family')).toBe(10);
    expect(read(b, sin6, 'sockaddr_in6', 'sin6_port')).toBe(0x1234);
    expect(read(b, sin6, 'sockaddr_in6', 'sin6_flowinfo')).toBe(0x00056789);
    expect(b[sin6 + 8]).toBe(0xa0);
    expect(b[sin6 + 23]).toBe(0xaf);
    expect(read(b, sin6, 'sockaddr_in6', 'sin6_scope_id')).toBe(0x0badcafe);
    expect([...b.subarray(sin6 + 28, sin6 + 32)]).toEqual([0, 0, 0, 0]); // PFKEY_ALIGN8 padding
    at += 40;
    expect(read(b, at, 'sadb_key', 'sadb_key_len')).toBe(4); // (8 + ALIGN8(20)) / 8
    expect(read(b, at, 'sadb_key', 'sadb_key_exttype')).toBe(9);
    expect(read(b, at, 'sadb_key', 'sadb_key_bits')).toBe(160);
    expect(b[at + 8]).toBe(1);
    expect(b[at + 27]).toBe(20);
    expect([...b.subarray(at + 28, at + 32)]).toEqual([0, 0, 0, 0]);
    at += 32;
    expect(read(b, at, 'sadb_x_sa2', 'sadb_x_sa2_len')).toBe(2);
    expect(read(b, at, 'sadb_x_sa2', 'sadb_x_sa2_exttype')).toBe(19);
    expect(read(b, at, 'sadb_x_sa2', 'sadb_x_sa2_mode')).toBe(2);
    expect(read(b, at, 'sadb_x_sa2', 'sadb_x_sa2_sequence')).toBe(0x99887766);
    expect(read(b, at, 'sadb_x_sa2', 'sadb_x_sa2_reqid')).toBe(0x1234);
    at += 16;
    expect(read(b, at, 'sadb_x_nat_t_port', 'sadb_x_nat_t_port_exttype')).toBe(21);
    expect(read(b, at, 'sadb_x_nat_t_port', 'sadb_x_nat_t_port_port')).toBe(4500);
    expect([b[at + 4], b[at + 5]]).toEqual([0x11, 0x94]); // __be16
    expect(at + 8).toBe(b.length);
  });

  it('sadb_prop + sadb_comb, sadb_x_policy + sadb_x_ipsecrequest + sockaddr_in pair, sadb_ident, sadb_sens', () => {
    const b = encodePfKey({
      type: 'ACQUIRE',
      satype: 3,
      errno: 0,
      seq: 7,
      pid: 0,
      ext: {
        identitySrc: { identType: 2, id: 0x0102030405060708n, identity: new TextEncoder().encode('gw.example') },
        sensitivity: { dpd: 0x10203040, sensLevel: 3, integLevel: 4, sensBitmap: [0x1111n], integBitmap: [0x2222n, 0x3333n] },
        proposal: {
          replay: 32,
          combs: [
            {
              auth: 5, encrypt: 12, flags: 0x0102, authMinbits: 256, authMaxbits: 257, encryptMinbits: 128, encryptMaxbits: 258,
              softAllocations: 0x01020304, hardAllocations: 0x05060708, softBytes: 11n, hardBytes: 12n,
              softAddtime: 72000n, hardAddtime: 86400n, softUsetime: 25200n, hardUsetime: 28800n,
            },
          ],
        },
        policy: {
          policyType: 2, dir: 2, id: 0x00000049, priority: 0x7fffffff,
          requests: [{ proto: 50, mode: 2, level: 3, reqid: 0x77, addresses: { src: { family: 'inet', address: Uint8Array.of(192, 0, 2, 1), port: 0 }, dst: { family: 'inet', address: Uint8Array.of(198, 51, 100, 7), port: 0 } } }],
        },
      },
    });
    let at = 16;
    expect(read(b, at, 'sadb_ident', 'sadb_ident_len')).toBe(4); // 16 + ALIGN8(10 + NUL)
    expect(read(b, at, 'sadb_ident', 'sadb_ident_exttype')).toBe(10);
    expect(read(b, at, 'sadb_ident', 'sadb_ident_type')).toBe(2);
    expect(read(b, at, 'sadb_ident', 'sadb_ident_id')).toBe(0x0102030405060708n);
    expect(new TextDecoder().decode(b.subarray(at + 16, at + 26))).toBe('gw.example');
    expect(b[at + 26]).toBe(0);
    at += 32;
    expect(read(b, at, 'sadb_sens', 'sadb_sens_len')).toBe(5);
    expect(read(b, at, 'sadb_sens', 'sadb_sens_dpd')).toBe(0x10203040);
    expect(read(b, at, 'sadb_sens', 'sadb_sens_sens_level')).toBe(3);
    expect(read(b, at, 'sadb_sens', 'sadb_sens_sens_len')).toBe(1);
    expect(read(b, at, 'sadb_sens', 'sadb_sens_integ_level')).toBe(4);
    expect(read(b, at, 'sadb_sens', 'sadb_sens_integ_len')).toBe(2);
    expect(new DataView(b.buffer).getBigUint64(at + 32, true)).toBe(0x3333n);
    at += 40;
    expect(read(b, at, 'sadb_prop', 'sadb_prop_len')).toBe(10); // (8 + 72) / 8
    expect(read(b, at, 'sadb_prop', 'sadb_prop_exttype')).toBe(13);
    expect(read(b, at, 'sadb_prop', 'sadb_prop_replay')).toBe(32);
    const c = at + 8;
    const comb = (f: string) => read(b, c, 'sadb_comb', f);
    expect([comb('sadb_comb_auth'), comb('sadb_comb_encrypt'), comb('sadb_comb_flags')]).toEqual([5, 12, 0x0102]);
    expect([comb('sadb_comb_auth_minbits'), comb('sadb_comb_auth_maxbits'), comb('sadb_comb_encrypt_minbits'), comb('sadb_comb_encrypt_maxbits')]).toEqual([256, 257, 128, 258]);
    expect([comb('sadb_comb_soft_allocations'), comb('sadb_comb_hard_allocations')]).toEqual([0x01020304, 0x05060708]);
    expect([comb('sadb_comb_soft_bytes'), comb('sadb_comb_hard_bytes')]).toEqual([11n, 12n]);
    expect([comb('sadb_comb_soft_addtime'), comb('sadb_comb_hard_addtime'), comb('sadb_comb_soft_usetime'), comb('sadb_comb_hard_usetime')]).toEqual([72000n, 86400n, 25200n, 28800n]);
    at += 80;
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_len')).toBe(8); // (16 + 16 + 2 × 16) / 8
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_exttype')).toBe(18);
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_type')).toBe(2);
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_dir')).toBe(2);
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_id')).toBe(0x49);
    expect(read(b, at, 'sadb_x_policy', 'sadb_x_policy_priority')).toBe(0x7fffffff);
    const rq = at + 16;
    expect(read(b, rq, 'sadb_x_ipsecrequest', 'sadb_x_ipsecrequest_len')).toBe(48); // OCTETS
    expect(read(b, rq, 'sadb_x_ipsecrequest', 'sadb_x_ipsecrequest_proto')).toBe(50);
    expect(read(b, rq, 'sadb_x_ipsecrequest', 'sadb_x_ipsecrequest_mode')).toBe(2);
    expect(read(b, rq, 'sadb_x_ipsecrequest', 'sadb_x_ipsecrequest_level')).toBe(3);
    expect(read(b, rq, 'sadb_x_ipsecrequest', 'sadb_x_ipsecrequest_reqid')).toBe(0x77);
    expect(read(b, rq + 16, 'sockaddr_in', 'sin_family')).toBe(2);
    expect([...b.subarray(rq + 20, rq + 24)]).toEqual([192, 0, 2, 1]);
    expect(read(b, rq + 32, 'sockaddr_in', 'sin_family')).toBe(2);
    expect([...b.subarray(rq + 36, rq + 40)]).toEqual([198, 51, 100, 7]);
    expect(rq + 48).toBe(b.length);
  });

  it('sadb_supported + sadb_alg, sadb_spirange, sadb_x_sec_ctx, sadb_x_kmaddress, sadb_x_filter, sadb_x_nat_t_type', () => {
    const reg = encodePfKey({ type: 'REGISTER', satype: 3, errno: 0, seq: 1, pid: 2, ext: { supportedEncrypt: { algs: [{ id: 12, ivlen: 16, minbits: 128, maxbits: 256 }] } } });
    expect(read(reg, 16, 'sadb_supported', 'sadb_supported_len')).toBe(2);
    expect(read(reg, 16, 'sadb_supported', 'sadb_supported_exttype')).toBe(15);
    expect([read(reg, 24, 'sadb_alg', 'sadb_alg_id'), read(reg, 24, 'sadb_alg', 'sadb_alg_ivlen'), read(reg, 24, 'sadb_alg', 'sadb_alg_minbits'), read(reg, 24, 'sadb_alg', 'sadb_alg_maxbits')]).toEqual([12, 16, 128, 256]);

    const spi = encodePfKey({ type: 'GETSPI', satype: 3, errno: 0, seq: 1, pid: 2, ext: { spiRange: { min: 0x100, max: 0x0fffffff } } });
    expect(read(spi, 16, 'sadb_spirange', 'sadb_spirange_min')).toBe(0x100);
    expect(read(spi, 16, 'sadb_spirange', 'sadb_spirange_max')).toBe(0x0fffffff);
    expect([...spi.subarray(20, 24)]).toEqual([0x00, 0x01, 0x00, 0x00]); // host order (little-endian)

    const ctx = encodePfKey({ type: 'X_SPDADD', satype: 0, errno: 0, seq: 1, pid: 2, ext: { secCtx: { alg: 1, doi: 1, context: new TextEncoder().encode('system_u:object_r:ipsec_spd_t:s0') } } });
    expect(read(ctx, 16, 'sadb_x_sec_ctx', 'sadb_x_sec_len')).toBe(5); // ALIGN8(8 + 32) / 8
    expect(read(ctx, 16, 'sadb_x_sec_ctx', 'sadb_x_ctx_alg')).toBe(1);
    expect(read(ctx, 16, 'sadb_x_sec_ctx', 'sadb_x_ctx_doi')).toBe(1);
    expect(read(ctx, 16, 'sadb_x_sec_ctx', 'sadb_x_ctx_len')).toBe(32);

    const mig = encodePfKey({
      type: 'X_MIGRATE', satype: 3, errno: 0, seq: 0, pid: 0,
      ext: { kmAddress: { reserved: 0x01020304, local: { family: 'inet6', address: new Uint8Array(16).fill(1), port: 0 }, remote: { family: 'inet6', address: new Uint8Array(16).fill(2), port: 0 } } },
    });
    expect(read(mig, 16, 'sadb_x_kmaddress', 'sadb_x_kmaddress_len')).toBe(8); // (8 + ALIGN8(56)) / 8
    expect(read(mig, 16, 'sadb_x_kmaddress', 'sadb_x_kmaddress_reserved')).toBe(0x01020304);
    expect(read(mig, 24, 'sockaddr_in6', 'sin6_family')).toBe(10);
    expect(read(mig, 24 + 28, 'sockaddr_in6', 'sin6_family')).toBe(10);

    const dump = encodePfKey({
      type: 'DUMP', satype: 3, errno: 0, seq: 1, pid: 2,
      ext: { filter: { saddr: new Uint8Array(16).fill(0xaa), daddr: new Uint8Array(16).fill(0xbb), family: 2, splen: 24, dplen: 16 } },
    });
    expect(read(dump, 16, 'sadb_x_filter', 'sadb_x_filter_len')).toBe(5);
    expect(dump[16 + 4]).toBe(0xaa);
    expect(dump[16 + 20]).toBe(0xbb);
    expect(read(dump, 16, 'sadb_x_filter', 'sadb_x_filter_family')).toBe(2);
    expect(read(dump, 16, 'sadb_x_filter', 'sadb_x_filter_splen')).toBe(24);
    expect(read(dump, 16, 'sadb_x_filter', 'sadb_x_filter_dplen')).toBe(16);

    const nat = encodePfKey({ type: 'ADD', satype: 3, errno: 0, seq: 1, pid: 2, ext: { natTType: { encapType: 2 } } });
    expect(read(nat, 16, 'sadb_x_nat_t_type', 'sadb_x_nat_t_type_len')).toBe(1);
    expect(read(nat, 16, 'sadb_x_nat_t_type', 'sadb_x_nat_t_type_exttype')).toBe(20);
    expect(read(nat, 16, 'sadb_x_nat_t_type', 'sadb_x_nat_t_type_type')).toBe(2);
  });
});
