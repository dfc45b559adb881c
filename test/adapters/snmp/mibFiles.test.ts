/** The shipped MIB module loads in Net-SNMP and says what the agent serves. */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { table } from '../../../adapters/snmp/mibTables.js';

const haveTools = await new Promise<boolean>((r) => execFile('snmptranslate', ['-V'], (e) => r(!e)));
const translate = (...args: string[]): Promise<{ out: string; err: string }> =>
  new Promise((resolve) => execFile('snmptranslate', ['-M', '+:mibs', '-m', '+ALL', ...args], (_e, out, err) => resolve({ out, err })));

describe.skipIf(!haveTools)('mibs/IPSEC-ES-MIB.txt', () => {
  it('loads with snmptranslate -M +:mibs -m +ALL, without a complaint about it or its imports', async () => {
    const r = await translate('-On', 'IPSEC-ES-MIB::ipsecEsActRowStatus');
    expect(r.out.trim()).toBe('.1.3.6.1.4.1.32473.4301.1.1.1.20');
    // The machine's own Net-SNMP MIBs may miss IETF modules; nothing may be wrong with ours.
    expect(r.err.split('\n').filter((l) => /IPSEC-ES-MIB|[^/]mibs\/|SNMPv2-(SMI|TC|CONF)/.test(l))).toEqual([]);
  });

  it('loads the same with -M +mibs (the directory appended without the colon form)', async () => {
    const r = await new Promise<{ out: string; err: string }>((resolve) => execFile('snmptranslate', ['-M', '+mibs', '-m', '+ALL', '-On', 'IPSEC-ES-MIB::ipsecEsSelText'], (_e, out, err) => resolve({ out, err })));
    expect(r.out.trim()).toBe('.1.3.6.1.4.1.32473.4301.1.2.1.2');
    expect(r.err.split('\n').filter((l) => /IPSEC-ES-MIB|mibs\/(IPSEC|SNMPv2)/.test(l))).toEqual([]);
  });

  it('names every column of ipsecEsActionTable and ipsecEsSelectorTable as the agent serves it, with the same access', async () => {
    for (const [tname, prefix] of [['ipsecEsActionTable', 'ipsecEsAct'], ['ipsecEsSelectorTable', 'ipsecEsSel']] as const) {
      const t = table(tname);
      for (const c of t.columns) {
        const oid = `.${t.entry.join('.')}.${c.n}`;
        const r = await translate('-Td', oid);
        expect(r.out, oid).toContain(`${prefix}${c.name[0]!.toUpperCase()}${c.name.slice(1)} OBJECT-TYPE`);
        const access = { na: 'not-accessible', ro: 'read-only', rc: 'read-create' }[c.access];
        expect(r.out, oid).toMatch(new RegExp(`MAX-ACCESS\\s+${access}`));
      }
    }
  });
});
