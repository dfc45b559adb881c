/**
 * `export-wireshark`: the `esp_sa` table (a Wireshark UAT file: Protocol, Src IP, Dest IP, SPI,
 * Encryption, Encryption Key, Authentication, Authentication Key; as packet-ipsec.c declares it)
 * for SAs in a log, so Wireshark and tshark decrypt captured ESP. SA parameters come from the
 * log; keys from the sealed key store (`--kek`) or the static keys of the policy file
 * (`--config`), checked against the fingerprint the log recorded.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyFact, emptyGatewayState } from '../../engine/projections/replay.js';
import { ENCR, INTEG } from '../../engine/crypto/transformIds.js';
import type { SaParams } from '../../engine/events/saFacts.js';
import { keyFingerprint } from '../../engine/keys/fingerprint.js';
import { toHex } from '../../engine/bytes.js';
import type { KeyMaterial } from '../../adapters/keyStore/types.js';
import { loadPolicyFile } from '../../adapters/policyFile/loader.js';
import { openLog } from '../logReader.js';
import { STORE_ARGUMENT_HELP, STORE_POSITIONAL, parseStoreSpec, redactUrl, stateDirectory } from '../storeSpec.js';
import { staticSaInstallSpecs } from '../staticSas.js';
import { suiteName } from '../gatewayViews.js';
import { openKeyStore } from './keys.js';
import { COMMON_HELP, CliError, EXIT, toJson, type Command } from './command.js';

/** Wireshark's names for the transforms it can decrypt (esp_encryption_type_vals / esp_authentication_type_vals). */
const WS_ENCR: Partial<Record<number, string>> = {
  [ENCR.NULL]: 'NULL',
  [ENCR.AES_CBC]: 'AES-CBC [RFC3602]',
  [ENCR.AES_CTR]: 'AES-CTR [RFC3686]',
  [ENCR.AES_GCM_16]: 'AES-GCM with 16 octet ICV [RFC4106]',
};
const WS_INTEG: Partial<Record<number, string>> = {
  [INTEG.NONE]: 'NULL',
  [INTEG.HMAC_SHA1_96]: 'HMAC-SHA-1-96 [RFC2404]',
  [INTEG.HMAC_SHA2_256_128]: 'HMAC-SHA-256-128 [RFC4868]',
  [INTEG.HMAC_SHA2_384_192]: 'HMAC-SHA-384-192 [RFC4868]',
  [INTEG.HMAC_SHA2_512_256]: 'HMAC-SHA-512-256 [RFC4868]',
  [INTEG.HMAC_MD5_96]: 'HMAC-MD5-96 [RFC2403]',
};

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * One `esp_sa` line. Keys as Wireshark wants them: AES-GCM and AES-CTR with their 4-octet salt
 * or nonce appended (RFC 4106 §8.1, RFC 3686 §5.1), which is how our KEYMAT holds them too.
 *
 * @example
 * espSaLine(params, { encKey }) // '"IPv4","192.0.2.1","192.0.2.2","0x00001234","AES-GCM with 16 octet ICV [RFC4106]","0x…","NULL",""'
 */
export function espSaLine(p: SaParams, keys: KeyMaterial): string {
  const encr = WS_ENCR[p.encr ?? -1];
  const integ = WS_INTEG[p.integ];
  if (p.protocol !== 'esp' || !encr || !integ) throw new CliError(`Wireshark cannot decrypt ${p.protocol.toUpperCase()} ${suiteName(p.encr, p.encrKeyBits, p.integ)}`, EXIT.refused);
  const src = p.tunnel?.src ?? '*';
  const dst = p.tunnel?.dst ?? p.dst;
  const v6 = dst.includes(':');
  return [v6 ? 'IPv6' : 'IPv4', src, dst, `0x${p.spi.toString(16).padStart(8, '0')}`, encr, keys.encKey ? `0x${toHex(keys.encKey)}` : '', integ, keys.integKey ? `0x${toHex(keys.integKey)}` : ''].map(quote).join(',');
}

export const exportWiresharkCommand: Command = {
  name: 'export-wireshark',
  summary: 'write the esp_sa table Wireshark and tshark decrypt ESP with (needs the keys)',
  help: `ipsec-es export-wireshark <store> (--kek <ref> | --config <policy.xml>) [--sa <id>]... [--out <file>]

Writes Wireshark's esp_sa table (a UAT file: put it in the profile directory, e.g.
~/.config/wireshark/esp_sa, and set esp.enable_encryption_decode: TRUE) for SAs of the log:
their SPI, addresses and suite from the log, their keys from the key store. Wireshark decrypts
NULL, AES-CBC, AES-CTR and AES-GCM-16 with NULL, HMAC-MD5/SHA1-96 or HMAC-SHA2 integrity.
The file holds keys in the clear: it is written with mode 0600.

${STORE_ARGUMENT_HELP}

Options:
  --kek <ref>         unlock the sealed key store <state>/keys (or --keys) with this KEK:
                      file:<path> or env:<NAME> (the gateway's --kek)
  --keys <dir>        the sealed key store directory (default <state>/keys)
  --state-dir <dir>   <state> of a postgres:// or kurrentdb:// store: the gateway's
                      --state-dir (default /var/lib/ipsec-es/<name from the URL>);
                      a store directory is its own <state>
  --config <file>     take static keys from this policy file instead (key references resolved)
  --sa <id>           this SA (repeatable); default: every SA whose keys are available
  --out <file>        write here (default: stdout)
${COMMON_HELP}

Exit codes: 0 written, 1 an SA is unknown or its keys are gone or do not match the log, 2 bad
arguments, 4 the store cannot be read or the key store is locked (no or wrong KEK).`,
  options: { kek: { type: 'string' }, keys: { type: 'string' }, 'state-dir': { type: 'string' }, config: { type: 'string' }, sa: { type: 'string', multiple: true }, out: { type: 'string' } },
  positionals: { min: 1, max: 1, names: STORE_POSITIONAL },
  async run({ values, positionals }, io) {
    const spec = parseStoreSpec(positionals[0]!);
    const stateDir = stateDirectory(spec, values);
    if (!values.kek === !values.config) throw new CliError('export-wireshark: give the keys: --kek <ref> (sealed key store) or --config <policy.xml> (static keys)', EXIT.usage);
    const log = await openLog(spec);
    const storeName = log.description;
    const state = emptyGatewayState();
    try {
      for await (const f of log.facts()) applyFact(state, f);
    } finally {
      await log.close();
    }
    const wanted = (values.sa as string[] | undefined) ?? [...state.sas].filter(([, s]) => s.params?.protocol === 'esp').map(([id]) => id);
    let lookup: (id: string, p: SaParams) => Promise<KeyMaterial | undefined>;
    if (values.kek) {
      const keys = await openKeyStore(values.keys ? String(values.keys) : join(stateDir, 'keys'), String(values.kek));
      lookup = async (_id, p) => {
        try {
          return await keys.get(p.keyRef);
        } catch (e) {
          const reason = (e as { reason?: string }).reason;
          if (reason === 'wrongKek') throw new CliError(`key store locked: ${(e as Error).message}`, EXIT.store);
          if (values.sa) throw new CliError((e as Error).message, EXIT.refused);
          return undefined; // a dead SA's keys are shredded: leave it out
        }
      };
    } else {
      let file;
      try {
        file = await loadPolicyFile(String(values.config));
      } catch (e) {
        throw new CliError((e as Error).message, EXIT.usage);
      }
      const specs = new Map((await staticSaInstallSpecs(file.staticSas)).map((s) => [s.id, s.keys]));
      lookup = async (id) => { const k = specs.get(id); return k ? { ...k } : undefined; };
    }
    const lines: string[] = [];
    const exported: string[] = [];
    for (const id of wanted) {
      const p = state.sas.get(id)?.params;
      if (!p) throw new CliError(`no installed SA ${id} in ${storeName} (ipsec-es replay ${redactUrl(positionals[0]!)} lists the SAs)`, EXIT.refused);
      const keys = await lookup(id, p);
      if (!keys?.encKey) {
        if (values.sa) throw new CliError(`no keys for SA ${id}`, EXIT.refused);
        continue;
      }
      // The keys must be the ones the log says the SA was installed with.
      if (keyFingerprint(keys.encKey, ...(keys.integKey ? [keys.integKey] : [])) !== p.keyFingerprint) throw new CliError(`the keys found for SA ${id} do not match the fingerprint in the log (${p.keyFingerprint}): the policy file or key store is not the one this log was written with`, EXIT.refused);
      lines.push(espSaLine(p, keys));
      exported.push(id);
    }
    if (lines.length === 0) throw new CliError(`no SA in ${storeName} has keys available to export`, EXIT.refused);
    const text = `# This file is automatically generated, DO NOT MODIFY.\n${lines.join('\n')}\n`;
    if (values.out) {
      await writeFile(String(values.out), text, { mode: 0o600 });
      io.out(values.json ? toJson({ out: values.out, sas: exported }) : `wrote ${exported.length} SAs (${exported.join(', ')}) to ${String(values.out)}`);
    } else io.out(text.trimEnd());
    return EXIT.ok;
  },
};
