/** Policies → RFC 4807 rows → policies gives back what the SPD holds (what managers see is what runs). */
import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../../adapters/policyFile/loader.js';
import { emptyState } from '../../../adapters/snmp/mibState.js';
import { addPolicyRows, checkAndCompile, DEFAULT_GROUPS } from '../../../adapters/snmp/spdMapping.js';
import { Spd } from '../../../engine/spd/spd.js';
import type { Policy } from '../../../engine/spd/types.js';
import { canonicalJson, policyToData } from '../../../engine/policy/policyData.js';

/**
 * A policy as the MIB can say it: a full-length prefix is a single address (RFC 3289 has prefix
 * lengths only), lifetimes are whole seconds (ipsecEsActSoftLifetimeSeconds), NAT-T off and
 * the 'hold' shunt are the defaults, and a group indexes its rows by a unique priority (checked
 * apart: order is kept). Nothing else may differ.
 */
function asTheMibSaysIt(p: Policy): string {
  type Addr = { kind: string; address?: string; length?: number };
  const d = policyToData(p) as unknown as Omit<Policy, 'selectors'> & { selectors: Array<{ localAddress: Addr; remoteAddress: Addr }> };
  for (const s of d.selectors) {
    for (const a of [s.localAddress, s.remoteAddress]) {
      if (a.kind === 'prefix' && a.length === (a.address!.includes(':') ? 128 : 32)) {
        a.kind = 'single';
        delete a.length;
      }
    }
  }
  if (d.protect?.natT === false) delete d.protect.natT;
  if (d.protect?.negotiationShunt === 'hold') delete d.protect.negotiationShunt;
  (d as { priority?: number }).priority = 0;
  if (d.protect) for (const l of [d.protect.lifetimes.soft, d.protect.lifetimes.hard]) if (l.timeMs !== undefined) l.timeMs = Math.floor(l.timeMs / 1000) * 1000;
  return canonicalJson(d);
}

describe('spdMapping', () => {
  for (const file of ['examples/site-to-site.xml', 'examples/host-to-host-transport.xml', 'examples/static-sas.xml']) {
    it(`${file}: every policy compiles back from its rows`, async () => {
      const { policies } = await loadPolicyFile(file);
      const state = emptyState();
      for (const p of policies) addPolicyRows(state, p, DEFAULT_GROUPS, false, 0);
      const compiled = checkAndCompile({ state, targets: [], touched: new Set(), statusAt: new Map() }, DEFAULT_GROUPS);
      if ('status' in compiled) throw new Error(compiled.reason);
      expect([...compiled.keys()].sort()).toEqual(policies.map((p) => p.id).sort());
      for (const p of policies) expect(asTheMibSaysIt(compiled.get(p.id)!.policy), p.id).toBe(asTheMibSaysIt(p));
      // Lookup order per direction is the SPD's (equal priorities in file order get the next free one).
      const spd = new Spd(policies);
      for (const d of ['outbound', 'inbound'] as const) {
        const order = spd.list().filter((p) => p.direction === d).map((p) => p.id);
        expect([...order].sort((a, b) => compiled.get(a)!.policy.priority - compiled.get(b)!.policy.priority)).toEqual(order);
      }
    });
  }
});
