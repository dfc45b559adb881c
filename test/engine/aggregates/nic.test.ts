import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { capabilityGap, decideNic, evolveNic, initialNicState, needsOf, NicRuleViolation, offloadVerdict, type NicCapabilities, type NicCommand, type NicState } from '../../../engine/aggregates/nic.js';
import type { CommandContext } from '../../../engine/events/fact.js';
import type { NicFact } from '../../../engine/events/otherFacts.js';
import type { SaParams } from '../../../engine/events/saFacts.js';

const CAPS: NicCapabilities = {
  encryption: [11, 12, 13, 20, 21, 28], aesKeyBits: [128, 192, 256], integrity: [1, 2, 12, 13, 14], modes: 'both', transportTunnelCombined: true,
  esp: true, ah: false, ahEspCombined: false, udpEsp: true, ipv6: true, ipv4Options: true, largeSend: false, extendedSequenceNumbers: true,
  saOffloadCapacity: 2,
};
const TRUSTED = { fipsMode: false, trusted: true };
const PARAMS: SaParams = {
  spi: 0x1001, protocol: 'esp', direction: 'outbound', mode: 'tunnel', tunnel: { src: '192.0.2.1', dst: '192.0.2.2' }, dst: '192.0.2.2',
  encr: 20, encrKeyBits: 128, integ: 0, esn: false, replayWindow: 128,
  lifetimes: { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }, keyRef: 'k-1', keyFingerprint: 'sha256:ab',
};

function ctx(): CommandContext {
  let n = 0;
  return { nowMs: 1_700_000_000_000, newId: () => `f-${++n}` };
}

/** Given commands, then the facts recorded and the state folded. */
function given(commands: NicCommand[]): { state: NicState; log: NicFact[] } {
  const c = ctx();
  let state = initialNicState;
  const log: NicFact[] = [];
  for (const command of commands) {
    const facts = decideNic(command, state, c);
    state = facts.reduce(evolveNic, state);
    log.push(...facts);
  }
  return { state, log };
}

describe('NIC decider, given/when/then', () => {
  it('start declares the capabilities once; offers within capacity record nothing (the NIC is asked), beyond it: capacity', () => {
    const { state, log } = given([
      { type: 'StartNic', capabilities: CAPS },
      { type: 'StartNic', capabilities: CAPS },
      { type: 'RecordSaAdded', saId: 'a', handle: 1 },
      { type: 'RecordSaAdded', saId: 'a', handle: 1 },
      { type: 'OfferSa', saId: 'b', params: PARAMS, policy: TRUSTED },
      { type: 'RecordSaAdded', saId: 'b', handle: 2 },
      { type: 'OfferSa', saId: 'c', params: PARAMS, policy: TRUSTED },
      { type: 'OfferSa', saId: 'a', params: PARAMS, policy: TRUSTED },
    ]);
    expect(log.map((f) => f.type)).toEqual(['NicCapabilitiesDeclared', 'NicSaAdded', 'NicSaAdded', 'NicSaRejected']);
    expect(log[3]!.data).toEqual({ saId: 'c', reason: 'capacity' });
    expect(state).toMatchObject({ status: 'active', version: 4, saCapacity: 2, rejections: { capacity: 1 } });
    expect(Object.keys(state.offloaded)).toEqual(['a', 'b']);
  });

  it('FIPS mode wins over everything, then trust, then capabilities', () => {
    const { state } = given([{ type: 'StartNic', capabilities: CAPS }]);
    expect(offloadVerdict(PARAMS, state, { fipsMode: true, trusted: false })).toBe('fips');
    expect(offloadVerdict(PARAMS, state, { fipsMode: false, trusted: false })).toBe('untrusted');
    expect(offloadVerdict({ ...PARAMS, encr: 13 }, { ...state, capabilities: { ...CAPS, encryption: [20] } }, TRUSTED)).toBe('unsupported');
    expect(offloadVerdict(PARAMS, initialNicState, TRUSTED)).toBe('unsupported'); // nothing declared yet
    expect(offloadVerdict(PARAMS, state, TRUSTED)).toBeUndefined();
  });

  it('capability gaps name what is missing', () => {
    const needs = needsOf({ ...PARAMS, natT: { srcPort: 4500, dstPort: 4500 }, esn: true, tunnel: { src: '2001:db8::1', dst: '2001:db8::2' } });
    expect(capabilityGap(CAPS, needs)).toBeUndefined();
    expect(capabilityGap({ ...CAPS, udpEsp: false }, needs)).toBe('udpEsp');
    expect(capabilityGap({ ...CAPS, extendedSequenceNumbers: false }, needs)).toBe('esn');
    expect(capabilityGap({ ...CAPS, ipv6: false }, needs)).toBe('ipv6');
    expect(capabilityGap({ ...CAPS, modes: 'transport' }, needs)).toBe('mode tunnel');
    expect(capabilityGap({ ...CAPS, aesKeyBits: [256] }, needs)).toBe('aes-128');
    expect(capabilityGap(CAPS, needsOf({ ...PARAMS, protocol: 'ah', encr: undefined, integ: 12 }))).toBe('ah');
  });

  it('withdraw removes once; a lost handle is removed by handle; restart and retirement remove everything', () => {
    const { state, log } = given([
      { type: 'StartNic', capabilities: CAPS },
      { type: 'RecordSaAdded', saId: 'a', handle: 1 },
      { type: 'RecordSaAdded', saId: 'b', handle: 2 },
      { type: 'WithdrawSa', saId: 'a' },
      { type: 'WithdrawSa', saId: 'a' },
      { type: 'ReportSaLost', handle: 2 },
      { type: 'ReportSaLost', handle: 2 },
      { type: 'RecordSaAdded', saId: 'c', handle: 3 },
      { type: 'StartNic', capabilities: CAPS },
      { type: 'RecordSaAdded', saId: 'd', handle: 1 },
      { type: 'RetireNic' },
      { type: 'RetireNic' },
    ]);
    expect(log.slice(3).map((f) => [f.type, (f.data as { reason?: string }).reason])).toEqual([
      ['NicSaRemoved', 'withdrawn'], ['NicSaRemoved', 'lost'], ['NicSaAdded', undefined], ['NicSaRemoved', 'restart'],
      ['NicSaAdded', undefined], ['NicSaRemoved', 'retired'], ['NicRetired', undefined],
    ]);
    expect(state).toMatchObject({ status: 'retired', offloaded: {} });
    expect(() => decideNic({ type: 'OfferSa', saId: 'e', params: PARAMS, policy: TRUSTED }, state, ctx())).toThrow(NicRuleViolation);
  });

  it('rules: a handle belongs to one SA, an SA has one handle, an offloaded SA is not rejected', () => {
    const { state } = given([{ type: 'StartNic', capabilities: CAPS }, { type: 'RecordSaAdded', saId: 'a', handle: 1 }]);
    expect(() => decideNic({ type: 'RecordSaAdded', saId: 'b', handle: 1 }, state, ctx())).toThrow(/handle 1 belongs to a/);
    expect(() => decideNic({ type: 'RecordSaAdded', saId: 'a', handle: 2 }, state, ctx())).toThrow(/already on the NIC/);
    expect(() => decideNic({ type: 'RejectSa', saId: 'a', reason: 'error' }, state, ctx())).toThrow(/withdraw it instead/);
    expect(() => decideNic({ type: 'RecordSaAdded', saId: 'a', handle: 1 }, initialNicState, ctx())).toThrow(/not declared/);
  });

  test.prop([fc.array(fc.oneof(
    fc.record({ type: fc.constant('RecordSaAdded' as const), saId: fc.constantFrom('a', 'b', 'c'), handle: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ type: fc.constant('WithdrawSa' as const), saId: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ type: fc.constant('ReportSaLost' as const), handle: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ type: fc.constant('OfferSa' as const), saId: fc.constantFrom('a', 'b', 'c'), params: fc.constant(PARAMS), policy: fc.constant(TRUSTED) }),
  ), { maxLength: 30 })])('fold law and invariants: handles unique, never more SAs than the capacity the NIC enforces', (commands) => {
    const c = ctx();
    let state = decideNic({ type: 'StartNic', capabilities: CAPS }, initialNicState, c).reduce(evolveNic, initialNicState);
    const log: NicFact[] = [];
    for (const command of commands) {
      let facts: NicFact[] = [];
      try {
        facts = decideNic(command, state, c);
      } catch (e) {
        expect(e).toBeInstanceOf(NicRuleViolation);
      }
      // The NIC itself refuses beyond its capacity: only decide an add when there is room.
      if (command.type === 'RecordSaAdded' && Object.keys(state.offloaded).length >= CAPS.saOffloadCapacity && facts.length > 0) facts = [];
      state = facts.reduce(evolveNic, state);
      log.push(...facts);
      const handles = Object.values(state.offloaded).map((o) => o.handle);
      expect(new Set(handles).size).toBe(handles.length);
    }
    const start = decideNic({ type: 'StartNic', capabilities: CAPS }, initialNicState, ctx()).reduce(evolveNic, initialNicState);
    const half = Math.floor(log.length / 2);
    const folded = log.slice(half).reduce(evolveNic, log.slice(0, half).reduce(evolveNic, start));
    expect(folded).toEqual(log.reduce(evolveNic, start));
    expect(folded.version).toBe(1 + log.length);
  });
});
