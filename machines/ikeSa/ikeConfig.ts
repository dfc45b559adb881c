/**
 * IKE peers from a policy file: each `<conn-entry>` (RFC 9061's IKE connection) with its two
 * `<pad-entry>` identities and pre-shared key, its IKE proposals in strongSwan's syntax, IKE SA
 * lifetimes, SPI range, and the CHILD SAs of its `<spd>` (policies `<name>:out` / `<name>:in`,
 * as `toPolicies` names them).
 */
import { ID_TYPE } from '../../engine/ike/constants.js';
import type { IdentityForAuth } from '../../engine/ike/auth.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import type { ConnEntryDoc, IdentityDoc, PolicyDocument } from '../../engine/policy/model.js';
import type { IkePeerConfig } from './ikeDaemon.js';
import { ikeSuitesOf, type IkeSuite } from './proposals.js';

/** A connection IKE cannot run as written: names the connection and what is wrong. */
export class IkeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IkeConfigError';
  }
}

/**
 * The ID payload for a PAD identity (RFC 7296 §3.5).
 *
 * @example
 * identityOf({ kind: 'fqdn-string', value: 'gw-a.example.net' }) // { idType: 2, data: utf8 bytes }
 */
export function identityOf(id: IdentityDoc): IdentityForAuth {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  switch (id.kind) {
    case 'ipv4-address':
    case 'ipv6-address': {
      const a = parseIpAddress(id.value);
      if (!a.ok) throw new IkeConfigError(`identity ${id.value}: ${a.rule}`);
      return { idType: a.value.length === 4 ? ID_TYPE.IPV4_ADDR : ID_TYPE.IPV6_ADDR, data: a.value };
    }
    case 'fqdn-string':
      return { idType: ID_TYPE.FQDN, data: utf8(id.value) };
    case 'rfc822-address-string':
      return { idType: ID_TYPE.RFC822_ADDR, data: utf8(id.value) };
    case 'id-key':
      return { idType: ID_TYPE.KEY_ID, data: utf8(id.value) };
  }
}

/**
 * The IKE peers of a document. `resolveKey` reads a PSK reference (`file:` / `env:`, hex).
 * Proposals with groups we do not implement are left out; a connection left with none is an
 * error naming it.
 *
 * @example
 * const peers = await ikePeersFromDocument(loaded.doc, resolveKeyRef);
 */
export async function ikePeersFromDocument(doc: PolicyDocument, resolveKey: (ref: string, what: string) => Promise<Uint8Array>): Promise<IkePeerConfig[]> {
  const out: IkePeerConfig[] = [];
  for (const c of doc.connections) out.push(await peerOf(doc, c, resolveKey));
  return out;
}

async function peerOf(doc: PolicyDocument, c: ConnEntryDoc, resolveKey: (ref: string, what: string) => Promise<Uint8Array>): Promise<IkePeerConfig> {
  const where = `conn-entry ${c.name}`;
  const pad = (name: string) => {
    const e = doc.pad.find((p) => p.name === name);
    if (!e) throw new IkeConfigError(`${where}: no pad-entry named ${name}`);
    return e;
  };
  const local = pad(c.local.padEntryName);
  const remote = pad(c.remote.padEntryName);
  if (c.remote.address === 'any') throw new IkeConfigError(`${where}: remote address 'any' (a road-warrior responder) is not supported yet`);
  const suites: IkeSuite[] = [];
  const refused: string[] = [];
  for (const p of c.ikeProposals) {
    const r = ikeSuitesOf(p);
    if ('problem' in r) refused.push(`${p} (${r.problem})`);
    else suites.push(...r);
  }
  if (suites.length === 0) throw new IkeConfigError(`${where}: none of its IKE proposals can be used: ${refused.join('; ')}`);
  // The peer proves the key of its own PAD entry (RFC 4301 §4.4.3); ours is the same shared secret.
  const psk = await resolveKey(remote.keyRef, `${where} pre-shared key`);
  const softMs = c.rekeyTime !== undefined ? c.rekeyTime * 1000 : undefined;
  const hardMs = c.overTime !== undefined ? (softMs !== undefined && c.overTime * 1000 <= softMs ? softMs + c.overTime * 1000 : c.overTime * 1000) : undefined;
  return {
    name: c.name,
    local: { address: c.local.address, id: identityOf(local.identity) },
    remote: { address: c.remote.address, id: identityOf(remote.identity) },
    psk,
    ikeSuites: suites,
    ...(softMs !== undefined || hardMs !== undefined ? { ikeLifetimes: { ...(softMs !== undefined ? { softMs } : {}), ...(hardMs !== undefined ? { hardMs } : {}) } } : {}),
    ...(c.spiRange ? { spiRange: { min: c.spiRange.start, max: c.spiRange.end } } : {}),
    children: c.spd.map((e) => ({ name: e.name, outPolicyId: `${e.name}:out`, inPolicyId: `${e.name}:in` })),
  };
}
