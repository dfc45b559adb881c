import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's libxml2-utils `xmllint`; the lead installs it in CI (apt-get install -y libxml2-utils). */
export const hasXmllint = spawnSync('xmllint', ['--version']).status === 0;

export const SCHEMA = new URL('../../../schema/ipsec-es-policy.xsd', import.meta.url).pathname;

/** Validates XML text against the schema; `ok` and xmllint's messages. */
export function validateWithXsd(xml: string, name = 'doc.xml'): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-xsd-'));
  const file = join(dir, name);
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', SCHEMA, file], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
