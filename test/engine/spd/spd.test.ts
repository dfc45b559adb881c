import { describe, expect, it } from 'vitest';
import { IPPROTO } from '../../../engine/packet/ipProtocol.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { Policy, Selector, SelectorFields } from '../../../engine/spd/types.js';
import { ANY, ESP_TUNNEL, fields, OPAQUE_SEL, policy, ports, prefix, proto, range, sel, single } from './fixtures.js';

/** The id of the outbound policy a one-policy SPD picks for `f`, or 'default'. */
function hit(s: Selector, f: SelectorFields): boolean {
  const spd = new Spd([policy({ id: 'p', selectors: [s] })]);
  return spd.classifyOutbound(f).policy?.id === 'p';
}

const tcp = (local: string, remote: string, localPort = 1234, remotePort = 80) => fields({ local, remote, protocol: IPPROTO.TCP, localPort, remotePort });

describe('selector kinds (table)', () => {
  const cases: [string, Selector, SelectorFields, boolean][] = [
    // Addresses: single
    ['single v4 equal', sel({ localAddress: single('10.0.0.1') }), tcp('10.0.0.1', '192.0.2.1'), true],
    ['single v4 other', sel({ localAddress: single('10.0.0.1') }), tcp('10.0.0.2', '192.0.2.1'), false],
    ['single v6 equal', sel({ remoteAddress: single('2001:db8::1') }), tcp('2001:db8::2', '2001:db8::1'), true],
    ['single v6 other', sel({ remoteAddress: single('2001:db8::1') }), tcp('2001:db8::2', '2001:db8::3'), false],
    ['single v4 vs a v6 packet', sel({ localAddress: single('10.0.0.1') }), tcp('::a00:1', '::1'), false],
    // Addresses: prefixes incl. /0, /32, /128 and a non-octet boundary
    ['prefix /0 v4 matches any v4', sel({ localAddress: prefix('0.0.0.0/0') }), tcp('203.0.113.9', '10.0.0.1'), true],
    ['prefix /0 v4 does not match v6', sel({ localAddress: prefix('0.0.0.0/0') }), tcp('2001:db8::1', '2001:db8::2'), false],
    ['prefix /0 v6 matches any v6', sel({ remoteAddress: prefix('::/0') }), tcp('2001:db8::1', 'fe80::1'), true],
    ['prefix /32 v4 inside', sel({ localAddress: prefix('10.1.2.3/32') }), tcp('10.1.2.3', '10.0.0.1'), true],
    ['prefix /32 v4 next', sel({ localAddress: prefix('10.1.2.3/32') }), tcp('10.1.2.4', '10.0.0.1'), false],
    ['prefix /128 inside', sel({ localAddress: prefix('2001:db8::7/128') }), tcp('2001:db8::7', '::1'), true],
    ['prefix /128 next', sel({ localAddress: prefix('2001:db8::7/128') }), tcp('2001:db8::8', '::1'), false],
    ['prefix /20 first', sel({ localAddress: prefix('10.1.16.0/20') }), tcp('10.1.16.0', '10.0.0.1'), true],
    ['prefix /20 last', sel({ localAddress: prefix('10.1.16.0/20') }), tcp('10.1.31.255', '10.0.0.1'), true],
    ['prefix /20 one past', sel({ localAddress: prefix('10.1.16.0/20') }), tcp('10.1.32.0', '10.0.0.1'), false],
    ['prefix /20 one before', sel({ localAddress: prefix('10.1.16.0/20') }), tcp('10.1.15.255', '10.0.0.1'), false],
    ['prefix /65 v6 inside', sel({ remoteAddress: prefix('2001:db8:0:1:8000::/65') }), tcp('::1', '2001:db8:0:1:ffff::1'), true],
    ['prefix /65 v6 outside', sel({ remoteAddress: prefix('2001:db8:0:1:8000::/65') }), tcp('::1', '2001:db8:0:1:7fff::1'), false],
    // Addresses: ranges, incl. one crossing IPv6 32-bit words
    ['range v4 from', sel({ localAddress: range('10.0.0.10', '10.0.1.5') }), tcp('10.0.0.10', '1.1.1.1'), true],
    ['range v4 to', sel({ localAddress: range('10.0.0.10', '10.0.1.5') }), tcp('10.0.1.5', '1.1.1.1'), true],
    ['range v4 below', sel({ localAddress: range('10.0.0.10', '10.0.1.5') }), tcp('10.0.0.9', '1.1.1.1'), false],
    ['range v4 above', sel({ localAddress: range('10.0.0.10', '10.0.1.5') }), tcp('10.0.1.6', '1.1.1.1'), false],
    ['range v6 across words, inside', sel({ localAddress: range('2001:db8::ffff:fff0', '2001:db8::1:0:10') }), tcp('2001:db8::1:0:0', '::1'), true],
    ['range v6 across words, low end', sel({ localAddress: range('2001:db8::ffff:fff0', '2001:db8::1:0:10') }), tcp('2001:db8::ffff:fff0', '::1'), true],
    ['range v6 across words, below', sel({ localAddress: range('2001:db8::ffff:fff0', '2001:db8::1:0:10') }), tcp('2001:db8::ffff:ffef', '::1'), false],
    ['range v6 across words, word gap', sel({ localAddress: range('2001:db8::ffff:fff0', '2001:db8::1:0:10') }), tcp('2001:db8::0:10', '::1'), false],
    ['range v6 across words, above', sel({ localAddress: range('2001:db8::ffff:fff0', '2001:db8::1:0:10') }), tcp('2001:db8::1:0:11', '::1'), false],
    // ANY and OPAQUE addresses
    ['ANY/ANY matches v4', sel(), tcp('10.0.0.1', '10.0.0.2'), true],
    ['ANY/ANY matches v6', sel(), tcp('::1', '::2'), true],
    ['OPAQUE address matches nothing', sel({ localAddress: OPAQUE_SEL }), tcp('10.0.0.1', '10.0.0.2'), false],
    // Protocol
    ['protocol TCP on TCP', sel({ protocol: proto(6) }), tcp('10.0.0.1', '10.0.0.2'), true],
    ['protocol UDP on TCP', sel({ protocol: proto(17) }), tcp('10.0.0.1', '10.0.0.2'), false],
    ['protocol OPAQUE on an unknown next layer', sel({ protocol: OPAQUE_SEL }), fields({ local: '::1', remote: '::2', protocol: -1 }), true],
    ['protocol OPAQUE on TCP', sel({ protocol: OPAQUE_SEL }), tcp('::1', '::2'), false],
    ['protocol ANY on OPAQUE', sel(), fields({ local: '::1', remote: '::2', protocol: -1 }), true],
    ['protocol ESP (a next layer too)', sel({ protocol: proto(IPPROTO.ESP) }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: IPPROTO.ESP }), true],
    // Ports
    ['local port range low end', sel({ protocol: proto(6), localPort: ports(1000, 2000) }), tcp('10.0.0.1', '10.0.0.2', 1000), true],
    ['local port range high end', sel({ protocol: proto(6), localPort: ports(1000, 2000) }), tcp('10.0.0.1', '10.0.0.2', 2000), true],
    ['local port range one past', sel({ protocol: proto(6), localPort: ports(1000, 2000) }), tcp('10.0.0.1', '10.0.0.2', 2001), false],
    ['remote port single', sel({ remotePort: ports(443) }), tcp('10.0.0.1', '10.0.0.2', 1, 443), true],
    ['remote port single, other', sel({ remotePort: ports(443) }), tcp('10.0.0.1', '10.0.0.2', 1, 444), false],
    ['port 0 and 65535', sel({ localPort: ports(0), remotePort: ports(65535) }), tcp('10.0.0.1', '10.0.0.2', 0, 65535), true],
    ['port range vs OPAQUE ports (fragment)', sel({ localPort: ports(0, 65535) }), fields({ local: '10.0.0.1', remote: '10.0.0.2' }), false],
    ['port ANY vs OPAQUE ports', sel(), fields({ local: '10.0.0.1', remote: '10.0.0.2' }), true],
    ['port OPAQUE vs OPAQUE ports', sel({ localPort: OPAQUE_SEL, remotePort: OPAQUE_SEL }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 47 }), true],
    ['port OPAQUE vs real ports', sel({ localPort: OPAQUE_SEL }), tcp('10.0.0.1', '10.0.0.2'), false],
    // ICMP type/code: the 16-bit value type × 256 + code in [from, to]
    ['ICMP echo request, any code', sel({ protocol: proto(1), icmp: { kind: 'range', from: { type: 8, code: 0 }, to: { type: 8, code: 255 } } }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1, icmp: 0x0800 }), true],
    ['ICMP echo reply vs echo request rule', sel({ protocol: proto(1), icmp: { kind: 'range', from: { type: 8, code: 0 }, to: { type: 8, code: 255 } } }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1, icmp: 0x0000 }), false],
    ['ICMP type 3 codes 0..4: code 4', sel({ icmp: { kind: 'range', from: { type: 3, code: 0 }, to: { type: 3, code: 4 } } }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1, icmp: 0x0304 }), true],
    ['ICMP type 3 codes 0..4: code 5', sel({ icmp: { kind: 'range', from: { type: 3, code: 0 }, to: { type: 3, code: 4 } } }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1, icmp: 0x0305 }), false],
    ['ICMP (3,13)..(4,0): type 4 code 0 (RFC 4301 16-bit rule)', sel({ icmp: { kind: 'range', from: { type: 3, code: 13 }, to: { type: 4, code: 0 } } }), fields({ local: '::1', remote: '::2', protocol: 58, icmp: 0x0400 }), true],
    ['ICMP (3,13)..(4,0): type 4 code 1', sel({ icmp: { kind: 'range', from: { type: 3, code: 13 }, to: { type: 4, code: 0 } } }), fields({ local: '::1', remote: '::2', protocol: 58, icmp: 0x0401 }), false],
    ['ICMP range vs TCP packet', sel({ icmp: { kind: 'range', from: { type: 0, code: 0 }, to: { type: 255, code: 255 } } }), tcp('10.0.0.1', '10.0.0.2'), false],
    ['ICMP OPAQUE vs a fragment', sel({ icmp: OPAQUE_SEL }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1 }), true],
    ['ICMP ANY vs a fragment', sel({ icmp: ANY }), fields({ local: '10.0.0.1', remote: '10.0.0.2', protocol: 1 }), true],
    // Mobility Header type
    ['MH type 5 in 5..6', sel({ protocol: proto(135), mhType: { kind: 'range', from: 5, to: 6 } }), fields({ local: '::1', remote: '::2', protocol: 135, mhType: 5 }), true],
    ['MH type 7 in 5..6', sel({ protocol: proto(135), mhType: { kind: 'range', from: 5, to: 6 } }), fields({ local: '::1', remote: '::2', protocol: 135, mhType: 7 }), false],
    ['MH OPAQUE vs a fragment', sel({ mhType: OPAQUE_SEL }), fields({ local: '::1', remote: '::2', protocol: 135 }), true],
    ['MH range vs a fragment', sel({ mhType: { kind: 'range', from: 0, to: 255 } }), fields({ local: '::1', remote: '::2', protocol: 135 }), false],
  ];
  it.each(cases)('%s', (_, s, f, want) => {
    expect(hit(s, f)).toBe(want);
  });
});

describe('ordering, actions and defaults', () => {
  const f = tcp('10.0.0.1', '10.0.0.2');

  it('lower priority first; ties keep insertion order; several selector sets per policy', () => {
    const spd = new Spd([
      policy({ id: 'late', priority: 20, action: 'discard' }),
      policy({ id: 'tie-1', priority: 10, selectors: [sel({ protocol: proto(17) }), sel({ localAddress: prefix('10.0.0.0/8') })] }),
      policy({ id: 'tie-2', priority: 10, action: 'discard' }),
    ]);
    expect(spd.classifyOutbound(f).policy?.id).toBe('tie-1');
    expect(spd.list().map((p) => p.id)).toEqual(['tie-1', 'tie-2', 'late']);
  });

  it('PROTECT names its policy; unmatched traffic is DISCARD by default, or the configured default', () => {
    const spd = new Spd([policy({ id: 'vpn', action: 'protect', protect: ESP_TUNNEL, selectors: [sel({ remoteAddress: prefix('10.0.0.0/24') })] })]);
    const d = spd.classifyOutbound(f);
    expect(d.action).toBe('protect');
    expect(d.action === 'protect' && d.policy.protect?.mode).toBe('tunnel');
    expect(spd.classifyOutbound(tcp('10.0.0.1', '10.9.0.2'))).toEqual({ action: 'discard' });
    expect(spd.classifyInboundPlain(f)).toEqual({ action: 'discard' });
    const open = new Spd([], { defaultOutbound: 'bypass', defaultInbound: 'bypass' });
    expect(open.classifyOutbound(f)).toEqual({ action: 'bypass' });
    expect(open.classifyInboundPlain(f)).toEqual({ action: 'bypass' });
  });

  it('directions are separate; inbound plain traffic matching PROTECT is discarded (RFC 4301 §5.2 step 3a)', () => {
    const spd = new Spd([
      policy({ id: 'out', direction: 'outbound', action: 'bypass' }),
      policy({ id: 'in-vpn', direction: 'inbound', action: 'protect', priority: 1, selectors: [sel({ remoteAddress: single('10.0.0.2') })] }),
      policy({ id: 'in-ok', direction: 'inbound', action: 'bypass', priority: 2 }),
    ]);
    expect(spd.classifyOutbound(f).policy?.id).toBe('out');
    expect(spd.classifyInboundPlain(f)).toMatchObject({ action: 'discard', policy: { id: 'in-vpn' } });
    expect(spd.classifyInboundPlain(tcp('10.0.0.1', '10.0.0.3'))).toMatchObject({ action: 'bypass', policy: { id: 'in-ok' } });
  });

  it('fields of mixed or odd address lengths match nothing, even ANY (a packet has one family)', () => {
    const spd = new Spd([policy({ id: 'all' })]);
    spd.add(policy({ id: 'all-2' }));
    const odd: SelectorFields = { ...f, remoteAddress: new Uint8Array(16) };
    expect(spd.classifyOutbound(odd)).toEqual({ action: 'discard' });
    expect(spd.classifyOutbound({ ...f, localAddress: new Uint8Array(8), remoteAddress: new Uint8Array(8) })).toEqual({ action: 'discard' });
    expect(spd.classifyOutbound(f).policy?.id).toBe('all');
  });

  it('list(part) shows the SPD-S, SPD-O and SPD-I split (RFC 4301 §4.4.1)', () => {
    const spd = new Spd([
      policy({ id: 'o-bypass' }),
      policy({ id: 'i-discard', direction: 'inbound', action: 'discard' }),
      policy({ id: 'o-protect', action: 'protect' }),
      policy({ id: 'i-protect', direction: 'inbound', action: 'protect' }),
    ]);
    expect(spd.list('S').map((p) => p.id)).toEqual(['o-protect', 'i-protect']);
    expect(spd.list('O').map((p) => p.id)).toEqual(['o-bypass']);
    expect(spd.list('I').map((p) => p.id)).toEqual(['i-discard']);
  });

  it('keeps its own frozen copy of each policy', () => {
    const p = policy({ id: 'p', selectors: [sel({ localAddress: single('10.0.0.1') })] });
    const spd = new Spd([p]);
    (p.selectors[0]!.localAddress as { address: Uint8Array }).address[3] = 9;
    p.priority = -5;
    expect(spd.classifyOutbound(f).policy?.id).toBe('p');
    expect(spd.get('p')?.priority).toBe(100);
    expect(Object.isFrozen(spd.get('p'))).toBe(true);
    expect(() => (spd.get('p')!.selectors as Selector[]).push(sel())).toThrow(TypeError);
  });
});

describe('inbound policy check (RFC 4301 §5.2 step 4)', () => {
  const spd = new Spd([
    policy({ id: 'bypass-mgmt', direction: 'inbound', priority: 1, action: 'bypass', selectors: [sel({ remoteAddress: single('192.0.2.99') })] }),
    policy({ id: 'site-a', direction: 'inbound', priority: 10, action: 'protect', protect: ESP_TUNNEL, selectors: [sel({ localAddress: prefix('10.1.0.0/16'), remoteAddress: prefix('192.0.2.0/24') })] }),
    policy({ id: 'site-a-web', direction: 'inbound', priority: 5, action: 'protect', protect: ESP_TUNNEL, selectors: [sel({ localAddress: prefix('10.1.0.0/16'), remoteAddress: prefix('192.0.2.0/24'), protocol: proto(6), localPort: ports(443) })] }),
    policy({ id: 'out-site-a', direction: 'outbound', priority: 10, action: 'protect', protect: ESP_TUNNEL, selectors: [sel({ localAddress: prefix('10.1.0.0/16'), remoteAddress: prefix('192.0.2.0/24') })] }),
  ]);
  const cases: [string, string, SelectorFields, boolean][] = [
    ['packet inside the SA policy', 'site-a', tcp('10.1.2.3', '192.0.2.7', 22, 5555), true],
    ['packet outside every policy', 'site-a', tcp('10.2.2.3', '192.0.2.7', 22, 5555), false],
    ['packet of another SA (a more specific policy comes first)', 'site-a', tcp('10.1.2.3', '192.0.2.7', 443, 5555), false],
    ['the more specific policy itself', 'site-a-web', tcp('10.1.2.3', '192.0.2.7', 443, 5555), true],
    ['a BYPASS policy earlier in the order', 'site-a', tcp('10.1.2.3', '192.0.2.99', 22, 5555), false],
    ['a BYPASS policy id is never an SA policy', 'bypass-mgmt', tcp('10.1.2.3', '192.0.2.99', 22, 5555), false],
    ['an outbound policy id', 'out-site-a', tcp('10.1.2.3', '192.0.2.7', 22, 5555), false],
    ['an unknown policy id', 'gone', tcp('10.1.2.3', '192.0.2.7', 22, 5555), false],
  ];
  it.each(cases)('%s', (_, id, f, ok) => {
    const r = spd.checkInbound(id, f);
    expect(r.ok).toBe(ok);
    if (r.ok) expect(r.policy.id).toBe(id);
    else expect(r.reason).toBe('policyMismatch');
  });

  it('traffic of an SA whose policy was removed is refused', () => {
    const s = new Spd([policy({ id: 'vpn', direction: 'inbound', action: 'protect' })]);
    expect(s.checkInbound('vpn', tcp('10.0.0.1', '10.0.0.2')).ok).toBe(true);
    s.remove('vpn');
    expect(s.checkInbound('vpn', tcp('10.0.0.1', '10.0.0.2'))).toEqual({ ok: false, reason: 'policyMismatch' });
  });
});

describe('remove, add and replaceAll', () => {
  const f = tcp('10.0.0.1', '10.0.0.2');
  const base = (): Policy[] => [policy({ id: 'a', priority: 5, action: 'discard' }), policy({ id: 'b', priority: 6 })];

  it('remove deletes a rule: the next one decides; unknown ids return false', () => {
    const spd = new Spd(base());
    expect(spd.classifyOutbound(f).policy?.id).toBe('a');
    expect(spd.remove('a')).toBe(true);
    expect(spd.classifyOutbound(f).policy?.id).toBe('b');
    expect(spd.remove('a')).toBe(false);
    expect(spd.remove('b')).toBe(true);
    expect(spd.classifyOutbound(f)).toEqual({ action: 'discard' });
    expect(spd.size).toBe(0);
  });

  it('added policies take their place by priority, then after equal priorities', () => {
    const spd = new Spd(base());
    spd.add(policy({ id: 'c', priority: 6 }));
    expect(spd.classifyOutbound(f).policy?.id).toBe('a');
    spd.add(policy({ id: 'd', priority: 5 }));
    expect(spd.classifyOutbound(f).policy?.id).toBe('a');
    spd.add(policy({ id: 'e', priority: 4 }));
    expect(spd.classifyOutbound(f).policy?.id).toBe('e');
    spd.remove('e');
    spd.remove('a');
    expect(spd.classifyOutbound(f).policy?.id).toBe('d');
    expect(spd.list().map((p) => p.id)).toEqual(['d', 'b', 'c']);
  });

  it('many single changes trigger rebuilds and stay correct', () => {
    const spd = new Spd();
    for (let i = 0; i < 200; i++) {
      spd.add(policy({ id: `p${i}`, priority: 1000 - i, selectors: [sel({ localPort: ports(i) })] }));
      expect(spd.classifyOutbound(tcp('10.0.0.1', '10.0.0.2', i)).policy?.id).toBe(`p${i}`);
    }
    for (let i = 0; i < 150; i++) spd.remove(`p${i}`);
    expect(spd.classifyOutbound(tcp('10.0.0.1', '10.0.0.2', 10))).toEqual({ action: 'discard' });
    expect(spd.classifyOutbound(tcp('10.0.0.1', '10.0.0.2', 170)).policy?.id).toBe('p170');
    expect(spd.stats().outbound.pending).toBeLessThanOrEqual(200);
  });

  it('replaceAll is all or nothing: a failing reload leaves the old SPD untouched', () => {
    const spd = new Spd(base());
    const bad = [policy({ id: 'x', priority: 1 }), policy({ id: 'y', selectors: [sel({ localAddress: { kind: 'prefix', address: Uint8Array.of(10, 0, 0, 0), length: 33 } })] })];
    expect(() => spd.replaceAll(bad)).toThrow(/^policies\[1\]\.selectors\[0\]\.localAddress\.length: must be an integer in 0\.\.32/);
    expect(() => spd.replaceAll([policy({ id: 'x' }), policy({ id: 'x' })])).toThrow(/policies\[1\]\.id: duplicate id 'x'/);
    expect(spd.size).toBe(2);
    expect(spd.classifyOutbound(f).policy?.id).toBe('a');
    expect(spd.get('x')).toBeUndefined();
    spd.replaceAll([policy({ id: 'x', priority: 1 })]);
    expect(spd.classifyOutbound(f).policy?.id).toBe('x');
    expect(spd.get('a')).toBeUndefined();
  });

  it('a failing add leaves the SPD untouched', () => {
    const spd = new Spd(base());
    expect(() => spd.add(policy({ id: 'a' }))).toThrow(/^policy\.id: 'a' is already in the SPD/);
    expect(() => spd.add(policy({ id: 'z', selectors: [sel({ protocol: proto(6), localPort: ports(9, 1) })] }))).toThrow(/^policy\.selectors\[0\]\.localPort\.from: must not exceed to/);
    expect(spd.size).toBe(2);
    expect(spd.get('z')).toBeUndefined();
  });
});
