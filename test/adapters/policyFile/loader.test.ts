import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicyFile, PolicyFileError, PolicyFileSource, policyFromText } from '../../../adapters/policyFile/loader.js';
import { IpsecError } from '../../../engine/errors.js';

const example = (name: string): string => new URL(`../../../examples/${name}`, import.meta.url).pathname;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipsec-es-policy-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const BAD = [
  '<ipsec-policy xmlns="urn:ipsec-es:policy:1">',
  '  <ipsec-ikeless><spd><spd-entry><name>x</name><direction>outbound</direction><ipsec-policy-config>',
  '    <traffic-selector><local-prefix>10.0.0.0/33</local-prefix><remote-prefix>any</remote-prefix>',
  '      <inner-protocol>udp</inner-protocol><local-ports><start>443</start><end>80</end></local-ports></traffic-selector>',
  '    <processing-info><action>discard</action></processing-info>',
  '  </ipsec-policy-config></spd-entry></spd></ipsec-ikeless>',
  '</ipsec-policy>',
].join('\n');

describe('loadPolicyFile', () => {
  it('loads a file whole: document, SPD entries, static SAs, default action', async () => {
    const loaded = await loadPolicyFile(example('static-sas.xml'));
    expect(loaded.policies.map((p) => p.id)).toEqual(['lan-out', 'lan-in', 'mgmt-out']);
    expect(loaded.staticSas.map((s) => s.id)).toEqual(['lan-out-sa', 'lan-in-sa', 'mgmt-out-sa']);
    expect(loaded.defaultAction).toBe('discard');
    expect(loaded.path).toBe(example('static-sas.xml'));
  });

  it('fails with a config.invalid IpsecError listing file:line:col: rule', async () => {
    const path = join(dir, 'bad.xml');
    writeFileSync(path, BAD);
    const err = await loadPolicyFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyFileError);
    expect(err).toBeInstanceOf(IpsecError);
    const e = err as PolicyFileError;
    expect(e.code).toBe('config.invalid');
    expect(e.errors).toHaveLength(2);
    expect(e.message).toBe(
      [
        'invalid policy file (2 errors):',
        `${path}:3:37: prefix length 33 exceeds 32 for an IPv4 address`,
        `${path}:4:63: port range 443-80 is reversed`,
      ].join('\n'),
    );
  });

  it('turns an unreadable file into the same error, never a vendor error', async () => {
    const path = join(dir, 'missing.xml');
    const err = await loadPolicyFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyFileError);
    expect((err as Error).message).toBe(`invalid policy file (1 error):\n${path}: cannot read the policy file (ENOENT)`);
    expect((err as Error).cause).toBeDefined();
  });

  it('parses text given directly', () => {
    expect(() => policyFromText('<x/>', 'inline.xml')).toThrow('inline.xml:1:1: the root element must be <ipsec-policy>, not <x>');
  });
});

describe('PolicyFileSource reload', () => {
  it('applies a valid file whole, keeps the previous set when the new file is invalid', async () => {
    const path = join(dir, 'gw.xml');
    copyFileSync(example('site-to-site.xml'), path);
    const source = new PolicyFileSource(path);
    expect(source.current).toBeUndefined();
    const first = await source.reload();
    expect(first.ok).toBe(true);
    const before = source.current!;
    expect(before.policies).toHaveLength(4);

    writeFileSync(path, BAD);
    const second = await source.reload();
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.error.errors.map((e) => e.line)).toEqual([3, 4]);
    expect(source.current).toBe(before); // nothing half-loaded: the old set stays, untouched
    expect(source.current!.policies).toHaveLength(4);

    copyFileSync(example('static-sas.xml'), path);
    const third = await source.reload();
    expect(third.ok).toBe(true);
    expect(source.current!.policies.map((p) => p.id)).toEqual(['lan-out', 'lan-in', 'mgmt-out']);
  });

  it('runs reloads in call order, so a slow older read cannot overwrite a newer one', async () => {
    const texts = [await import('node:fs/promises').then((fs) => fs.readFile(example('site-to-site.xml'), 'utf8')), await import('node:fs/promises').then((fs) => fs.readFile(example('static-sas.xml'), 'utf8'))];
    let call = 0;
    const read = async (): Promise<string> => {
      const mine = call++;
      // The first read is the slow one.
      await new Promise((r) => setTimeout(r, mine === 0 ? 30 : 0));
      return texts[mine]!;
    };
    const source = new PolicyFileSource('gw.xml', read);
    const [a, b] = await Promise.all([source.reload(), source.reload()]);
    expect(a.ok && b.ok).toBe(true);
    expect(source.current!.policies.map((p) => p.id)).toEqual(['lan-out', 'lan-in', 'mgmt-out']);
  });
});
