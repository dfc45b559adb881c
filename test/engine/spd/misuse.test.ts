import { describe, expect, it } from 'vitest';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { Policy, ProtectParams } from '../../../engine/spd/types.js';
import { validatePolicy } from '../../../engine/spd/validate.js';
import { ESP_TRANSPORT, ESP_TUNNEL, ip, policy, ports, prefix, proto, range, sel, single } from './fixtures.js';

const protect = (p: Partial<ProtectParams>): Policy => policy({ id: 'p', action: 'protect', protect: { ...ESP_TRANSPORT, ...p } as ProtectParams });
const withSel = (s: Parameters<typeof sel>[0]): Policy => policy({ id: 'p', selectors: [sel(s)] });

/** Each bad policy throws a RangeError whose message starts with the field's path. */
const cases: [string, Policy, RegExp][] = [
  ['prefix length 33 for IPv4', withSel({ localAddress: { kind: 'prefix', address: ip('10.0.0.0'), length: 33 } }), /^policy\.selectors\[0\]\.localAddress\.length: must be an integer in 0\.\.32 for IPv4, got 33/],
  ['prefix length 129 for IPv6', withSel({ remoteAddress: { kind: 'prefix', address: ip('2001:db8::'), length: 129 } }), /^policy\.selectors\[0\]\.remoteAddress\.length: .*0\.\.128/],
  ['prefix with host bits', withSel({ localAddress: { kind: 'prefix', address: ip('10.0.0.1'), length: 24 } }), /^policy\.selectors\[0\]\.localAddress\.address: has host bits set beyond \/24/],
  ['address of 5 octets', withSel({ localAddress: { kind: 'single', address: new Uint8Array(5) } }), /^policy\.selectors\[0\]\.localAddress\.address: must be a Uint8Array of 4 \(IPv4\) or 16/],
  ['address range from > to', withSel({ localAddress: range('10.0.0.9', '10.0.0.1') }), /^policy\.selectors\[0\]\.localAddress\.from: must not exceed to/],
  ['address range of mixed families', withSel({ localAddress: { kind: 'range', from: ip('10.0.0.1'), to: ip('::1') } }), /^policy\.selectors\[0\]\.localAddress\.to: must be a Uint8Array of 4 octets/],
  ['mixed address families', withSel({ localAddress: single('10.0.0.1'), remoteAddress: prefix('2001:db8::/32') }), /^policy\.selectors\[0\]\.remoteAddress: must be the same address family as localAddress/],
  ['unknown address kind', withSel({ localAddress: { kind: 'subnet' } as never }), /^policy\.selectors\[0\]\.localAddress\.kind: must be one of/],
  ['reversed port range', withSel({ protocol: proto(6), remotePort: ports(80, 79) }), /^policy\.selectors\[0\]\.remotePort\.from: must not exceed to \(80 > 79: reversed range\)/],
  ['port 65536', withSel({ localPort: ports(0, 65536) }), /^policy\.selectors\[0\]\.localPort\.to: must be an integer in 0\.\.65535/],
  ['port range with a protocol without ports', withSel({ protocol: proto(1), localPort: ports(1, 2) }), /^policy\.selectors\[0\]\.localPort: a port range needs a protocol with ports/],
  ['protocol 256', withSel({ protocol: proto(256) }), /^policy\.selectors\[0\]\.protocol\.value: must be an integer in 0\.\.255/],
  ['ICMP code 256', withSel({ icmp: { kind: 'range', from: { type: 0, code: 256 }, to: { type: 0, code: 0 } } }), /^policy\.selectors\[0\]\.icmp\.from\.code: must be an integer in 0\.\.255/],
  ['ICMP range reversed', withSel({ icmp: { kind: 'range', from: { type: 4, code: 0 }, to: { type: 3, code: 255 } } }), /^policy\.selectors\[0\]\.icmp\.from: must not exceed to/],
  ['ICMP range with TCP', withSel({ protocol: proto(6), icmp: { kind: 'range', from: { type: 8, code: 0 }, to: { type: 8, code: 0 } } }), /^policy\.selectors\[0\]\.icmp: needs protocol ICMP \(1\), ICMPv6 \(58\) or ANY/],
  ['MH type 256', withSel({ mhType: { kind: 'range', from: 0, to: 256 } }), /^policy\.selectors\[0\]\.mhType\.to: must be an integer in 0\.\.255/],
  ['MH range with UDP', withSel({ protocol: proto(17), mhType: { kind: 'range', from: 1, to: 1 } }), /^policy\.selectors\[0\]\.mhType: needs protocol MH \(135\)/],
  ['empty id', policy({ id: '' }), /^policy\.id: must be a non-empty string/],
  ['fractional priority', policy({ id: 'p', priority: 1.5 }), /^policy\.priority: must be a safe integer/],
  ['unknown direction', policy({ id: 'p', direction: 'both' as never }), /^policy\.direction: must be one of 'outbound', 'inbound'/],
  ['unknown action', policy({ id: 'p', action: 'allow' as never }), /^policy\.action: must be one of 'protect', 'bypass', 'discard'/],
  ['no selectors', policy({ id: 'p', selectors: [] }), /^policy\.selectors: must be a non-empty array/],
  ['PROTECT without params', { id: 'p', priority: 1, direction: 'outbound', action: 'protect', selectors: [sel()] }, /^policy\.protect: must be an object \(required when action is protect\)/],
  ['BYPASS with params', policy({ id: 'p', action: 'bypass', protect: ESP_TRANSPORT }), /^policy\.protect: must be absent when action is 'bypass'/],
  ['tunnel mode without endpoints', protect({ mode: 'tunnel' }), /^policy\.protect\.tunnel: required in tunnel mode/],
  ['tunnel endpoints of mixed families', protect({ mode: 'tunnel', tunnel: { src: ip('10.0.0.1'), dst: ip('::1') } }), /^policy\.protect\.tunnel\.dst: must be a Uint8Array of 4 octets, like src/],
  ['transport mode with endpoints', policy({ id: 'p', action: 'protect', protect: { ...ESP_TUNNEL, mode: 'transport' } }), /^policy\.protect\.tunnel: must be absent in transport mode/],
  ['no proposals', protect({ proposals: [] }), /^policy\.protect\.proposals: must be a non-empty array/],
  ['unknown suite', protect({ proposals: [{ encr: 99 as never, integ: INTEG.NONE }] }), /^policy\.protect\.proposals\[0\]\.encr: unknown or unsupported ESP encryption transform 99/],
  ['AES key size 100', protect({ proposals: [{ encr: ENCR.AES_CBC, encrKeyBits: 100, integ: INTEG.HMAC_SHA2_256_128 }] }), /^policy\.protect\.proposals\[0\]\.encrKeyBits: must be one of 128, 192, 256/],
  ['CBC without integrity', protect({ proposals: [{ encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.NONE }] }), /^policy\.protect\.proposals\[0\]\.integ: is required with a non-combined transform/],
  ['GCM with integrity', protect({ proposals: [{ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.HMAC_SHA1_96 }] }), /^policy\.protect\.proposals\[0\]\.integ: must be NONE with a combined-mode transform/],
  ['AH with NONE', protect({ protocol: 'ah', proposals: [INTEG.NONE] } as Partial<ProtectParams>), /^policy\.protect\.proposals\[0\]\.integ: AH needs an integrity transform/],
  ['soft lifetime above hard', protect({ lifetimes: { soft: { bytes: 2000 }, hard: { bytes: 1000 } } }), /^policy\.protect\.lifetimes\.soft\.bytes: must not exceed the hard limit \(2000 > 1000\)/],
  ['negative lifetime', protect({ lifetimes: { soft: {}, hard: { timeMs: -1 } } }), /^policy\.protect\.lifetimes\.hard\.timeMs: must be a positive safe integer/],
  ['replay window 16', protect({ replayWindow: 16 }), /^policy\.protect\.replayWindow: must be 0 or an integer in 32\.\.4096, got 16/],
  ['ESN without a window', protect({ replayWindow: 0, esn: true }), /^policy\.protect\.esn: must be false when replayWindow is 0/],
  ['unknown offload', protect({ offload: 'always' as never }), /^policy\.protect\.offload: must be one of 'none', 'prefer', 'require'/],
  ['unknown shunt', protect({ negotiationShunt: 'queue' as never }), /^policy\.protect\.negotiationShunt: must be one of 'hold', 'drop', 'pass'/],
];

describe('misuse: RangeError naming the field', () => {
  it.each(cases)('%s', (_, bad, message) => {
    expect(() => validatePolicy(bad)).toThrow(RangeError);
    expect(() => validatePolicy(bad)).toThrow(message);
    const spd = new Spd();
    expect(() => spd.add(bad)).toThrow(RangeError);
    expect(spd.size).toBe(0);
  });

  it('the valid fixtures pass', () => {
    for (const p of [policy({ id: 'a' }), protect({}), policy({ id: 't', action: 'protect', protect: ESP_TUNNEL }), protect({ protocol: 'ah', proposals: [INTEG.HMAC_SHA2_256_128] } as Partial<ProtectParams>)]) {
      expect(() => validatePolicy(p)).not.toThrow();
    }
  });

  it('options are checked', () => {
    expect(() => new Spd([], { defaultOutbound: 'protect' as never })).toThrow(/^options\.defaultOutbound: must be 'bypass' or 'discard'/);
  });
});
