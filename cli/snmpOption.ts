/**
 * `ipsec-es gateway --snmp <port>`: the gateway's SPD served over SNMP (RFC 4807, adapters/snmp),
 * and the one owner of that SPD that SNMP, the policy file and SIGHUP all go through.
 *
 * Credentials come from the environment, never from flags (a flag shows in `ps`):
 * - `IPSEC_ES_SNMP_COMMUNITY`: an SNMPv2c community with read-write access. SNMPv2c sends it in
 *   the clear: keep the agent on loopback or a management network.
 * - `IPSEC_ES_SNMP_USER`, `IPSEC_ES_SNMP_AUTH`, `IPSEC_ES_SNMP_PRIV`: an SNMPv3 USM user with
 *   authPriv (RFC 3414 HMAC-SHA-256, RFC 3826 AES-128), read-write; passphrases of 8 characters or
 *   more (RFC 3414 §11.2; Net-SNMP's tools refuse shorter ones).
 *
 * Who owns which policy (machines/policy/policyService.ts): the policy file owns the ids it
 * names, so a reload puts back the file's version of those (a change made to one over SNMP is
 * undone, as a fact from the file); a rule created over SNMP and never named by the file
 * survives reloads and restarts (its facts are its only record, `restore` puts it back) until a
 * manager destroys it; a policy the file stops naming is removed if the file was its last writer.
 * The agent shows the file's rules read-only (StorageType readOnly), so managers cannot edit them.
 */
import { isIP } from 'node:net';
import { startSnmpAgent, type SnmpAgent, type SnmpAgentOptions } from '../adapters/snmp/snmpAgent.js';
import type { SnmpPolicyPort } from '../adapters/snmp/policyPort.js';
import type { PolicySource } from '../engine/events/otherFacts.js';
import type { Spd } from '../engine/spd/spd.js';
import type { Policy } from '../engine/spd/types.js';
import { PolicyService, type AppliedChange } from '../machines/policy/policyService.js';
import type { Clock, FactLog, Random } from '../machines/ports.js';
import { CliError, EXIT } from './commands/command.js';

/** What `--snmp` and the environment configure: the agent's options less the policy owner. */
export type SnmpOptions = Omit<SnmpAgentOptions, 'policies'>;

/** The `who` recorded in facts for the community (the community itself is a password). */
export const COMMUNITY_NAME = 'community';

const MIN_PASSPHRASE = 8;

/**
 * The agent's options from `--snmp <port>`, `--snmp-address <addr>` (default 127.0.0.1) and the
 * credential variables; undefined without `--snmp`. A `CliError` (exit 2) in one line for a bad
 * port or address, `--snmp` without any credential, or an SNMPv3 user without both keys.
 *
 * @example
 * const snmp = snmpOptionsFrom({ snmp: '1161' }, { IPSEC_ES_SNMP_COMMUNITY: 'ops-secret' });
 * // { port: 1161, address: '127.0.0.1', communities: [{ community: 'ops-secret', access: 'readWrite', name: 'community' }], users: [] }
 */
export function snmpOptionsFrom(flags: { snmp?: unknown; 'snmp-address'?: unknown }, env: NodeJS.ProcessEnv): SnmpOptions | undefined {
  const raw = flags.snmp;
  const rawAddress = flags['snmp-address'];
  if (raw === undefined) {
    if (rawAddress !== undefined) throw new CliError('--snmp-address needs --snmp <port>', EXIT.usage);
    return undefined;
  }
  if (typeof raw !== 'string' || !/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new CliError(`--snmp must be a UDP port in 0..65535 (0: any free port), got ${String(raw)}`, EXIT.usage);
  const address = rawAddress === undefined ? '127.0.0.1' : String(rawAddress);
  if (isIP(address) === 0) throw new CliError(`--snmp-address must be an IPv4 or IPv6 address, got ${address}`, EXIT.usage);

  const community = env.IPSEC_ES_SNMP_COMMUNITY;
  const { IPSEC_ES_SNMP_USER: user, IPSEC_ES_SNMP_AUTH: auth, IPSEC_ES_SNMP_PRIV: priv } = env;
  if (community === '') throw new CliError('IPSEC_ES_SNMP_COMMUNITY is empty: set a community or unset it', EXIT.usage);
  if (user === undefined && (auth !== undefined || priv !== undefined)) throw new CliError('IPSEC_ES_SNMP_AUTH and IPSEC_ES_SNMP_PRIV need IPSEC_ES_SNMP_USER (the SNMPv3 user name)', EXIT.usage);
  if (user !== undefined) {
    if (user === '' || Buffer.byteLength(user) > 32) throw new CliError('IPSEC_ES_SNMP_USER must be 1 to 32 octets (RFC 3414 usmUserName)', EXIT.usage);
    if (!auth || !priv) throw new CliError(`SNMPv3 user ${user} needs both IPSEC_ES_SNMP_AUTH and IPSEC_ES_SNMP_PRIV (authPriv: SHA-256 authentication, AES-128 privacy)`, EXIT.usage);
    for (const [name, key] of [['IPSEC_ES_SNMP_AUTH', auth], ['IPSEC_ES_SNMP_PRIV', priv]] as const) {
      if (key.length < MIN_PASSPHRASE) throw new CliError(`${name} must be at least ${MIN_PASSPHRASE} characters (RFC 3414 §11.2)`, EXIT.usage);
    }
  }
  if (community === undefined && user === undefined) {
    throw new CliError('--snmp needs a credential: set IPSEC_ES_SNMP_COMMUNITY (SNMPv2c), or IPSEC_ES_SNMP_USER with IPSEC_ES_SNMP_AUTH and IPSEC_ES_SNMP_PRIV (SNMPv3 authPriv)', EXIT.usage);
  }
  return {
    port: Number(raw),
    address,
    communities: community === undefined ? [] : [{ community, access: 'readWrite', name: COMMUNITY_NAME }],
    users: user === undefined ? [] : [{ name: user, access: 'readWrite', authProtocol: 'sha256', authKey: auth!, privProtocol: 'aes', privKey: priv! }],
  };
}

export interface AttachPoliciesOptions {
  /** The SPD the data path uses (`gateway.spd`). */
  spd: Spd;
  /** The gateway's fact log (`factLog(store)`). */
  log: FactLog;
  clock: Pick<Clock, 'now'>;
  random: Pick<Random, 'uuid'>;
  /** The names of the streams already in the log (`policy-<id>` ones are restored). */
  streams: Iterable<string>;
  /** The policy file as loaded. */
  file: { path: string; policies: readonly Policy[] };
}

export interface AttachedPolicies {
  /** The SPD's owner: hand it to `startSnmp` (and to anything else that changes policies). */
  service: PolicyService;
  /** Policies put back from the log: made over SNMP, or dropped from the file while stopped (then removed by the load). */
  restored: string[];
  /** What loading the file recorded (empty when the log already said what the file says). */
  loaded: AppliedChange[];
  /** SIGHUP: the file's policies again, through the same service and the same ownership rule. */
  reload(file: { path: string; policies: readonly Policy[] }): Promise<AppliedChange[]>;
}

/** The source of the policy file's facts. */
const fileSource = (file: { path: string }): PolicySource => ({ via: 'file', file: file.path });

/**
 * Makes a `PolicyService` the owner of `spd`: restores the policy streams of the log (the only
 * record of rules made over SNMP), then loads the file's policies as facts like any other
 * change. Call it before SAs are restored or installed, so that they find their policies.
 *
 * @example
 * const policies = await attachPolicies({ spd: gateway.spd, log: factLog(store), clock: systemClock, random: cryptoRandom, streams: logged, file });
 * // SIGHUP: await policies.reload(await loadPolicyFile(config));
 */
export async function attachPolicies(o: AttachPoliciesOptions): Promise<AttachedPolicies> {
  const service = new PolicyService({ spd: o.spd, log: o.log, clock: o.clock, random: o.random });
  const ids = [...o.streams].filter((s) => s.startsWith('policy-')).map((s) => s.slice('policy-'.length));
  const restored = await service.restore(ids);
  const loaded = await service.load(o.file.policies, fileSource(o.file));
  return { service, restored, loaded, reload: (file) => service.load(file.policies, fileSource(file)) };
}

/**
 * Starts the SNMP agent on the policy owner; resolves once it listens. `close()` stops it
 * (waiting for a Set in progress).
 *
 * @example
 * const snmp = options ? await startSnmp(options, policies.service) : undefined;
 * say(JSON.stringify({ event: 'snmp', address: snmp.address, port: snmp.port }));
 */
export function startSnmp(options: SnmpOptions, policies: PolicyService): Promise<SnmpAgent> {
  return startSnmpAgent({ ...options, policies: policies satisfies SnmpPolicyPort });
}
