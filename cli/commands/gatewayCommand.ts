/**
 * `ipsec-es gateway`: a gateway on a real TUN device and UDP port 4500 until SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { runGateway } from '../gateway.js';
import { COMMON_HELP, CliError, EXIT, intFlag, type Command } from './command.js';
import { openKeyStore } from './keys.js';
import { parseStoreSpec, stateDirectory } from '../storeSpec.js';
import { snmpOptionsFrom } from '../snmpOption.js';
import { nativeCryptoStatus } from '../../engine/crypto/nativeBackend.js';
import type { CryptoBackendName } from '../../engine/crypto/types.js';

/**
 * `--crypto`: `auto` is `native` when its addon is built, else `node` with one notice line
 * saying why; `native` without the addon is a usage error naming the fix.
 */
function cryptoBackendFrom(value: string, say: (line: string) => void): CryptoBackendName {
  if (value !== 'auto' && value !== 'native' && value !== 'node' && value !== 'noble') throw new CliError(`--crypto must be auto, native, node or noble, got ${value}`, EXIT.usage);
  if (value === 'node' || value === 'noble') return value;
  const status = nativeCryptoStatus();
  if (status.available) return 'native';
  if (value === 'native') throw new CliError(`--crypto native: ${status.why}`, EXIT.usage);
  say(JSON.stringify({ event: 'notice', message: `native ESP crypto unavailable (${status.why}); using node:crypto` }));
  return 'node';
}

export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'run a gateway on a Linux TUN device and ESP-in-UDP (needs root)',
  help: `ipsec-es gateway --config <policy.xml> --store <dir|url> [options]

Runs a gateway on a Linux TUN device and ESP-in-UDP (RFC 3948) on UDP port 4500. When the
policy file has <conn-entry>s, IKEv2 (RFC 7296, pre-shared keys) negotiates their SAs: the first
packet to a PROTECT policy without an SA starts IKE, lifetimes rekey, DELETEs are honoured.

Options:
  --config <file>     XML policy file (schema/ipsec-es-policy.xsd): SPD, static SAs, IKE peers
  --store <store>     where the event log is: a directory of the embedded file log (created
                      if missing), postgres://user@host/db[?schema=<name>] or
                      kurrentdb://host:2113[?tls=false]; a restart rebuilds the SAs from it
  --state-dir <dir>   with a URL store: where the control socket and sealed keys go (default
                      /var/lib/ipsec-es/<name from the URL>); a store directory holds its own
  --tun <name>        TUN device name (default ipsec0)
  --mtu <bytes>       TUN MTU (default 1400)
  --listen <address>  UDP address to bind (default 0.0.0.0)
  --port <n>          UDP port (default 4500)
  --ike-port <n>      IKE's own UDP port, bound only for IKE peers (default 500; 0: none, IKE
                      only on --port behind the non-ESP marker)
  --natt-keepalive <s>  seconds between NAT-keepalives to each IKE peer (RFC 3948 §4; default
                      20; 0: none). We always encapsulate ESP in UDP, so we always send them
  --esp udp|raw       udp (default): ESP in UDP (RFC 3948); raw: ESP as IP protocol 50 on
                      --listen's family (RFC 4303, no NAT traversal; needs CAP_NET_RAW; the
                      policy file's SAs must have no <encapsulation-type>)
  --route <prefix>    add a route to <prefix> through the TUN device (repeatable)
  --crypto <backend>  who does the ESP arithmetic: auto (native when its addon is built, else
                      node), native (the C fast path over Node's OpenSSL, a batch per call),
                      node (node:crypto, a call per packet) or noble (pure JS); default
                      $IPSEC_ES_CRYPTO, else auto
  --offload emulated[:N]  offload to an emulated NIC (NDIS IPsec offload v2 shaped, real
                      crypto) with room for N SAs (default 1024), where a policy prefers offload
  --control <path>    control socket (default <state>/control.sock): JSON lines, e.g.
                      {"cmd":"status"}, {"cmd":"list-sas"}, {"cmd":"facts"}, {"cmd":"reload"}
  --kek <ref>         seal SA keys in <state>/keys under this key-encryption key
                      (file:<path> or env:<NAME>, 64 hex digits) instead of keeping them in memory
  --metrics <[host:]port>  serve Prometheus metrics on GET /metrics (host default 127.0.0.1)
  --snmp <port>       serve the SPD over SNMP on this UDP port (RFC 4807 IPSEC-SPD-MIB with
                      mibs/IPSEC-ES-MIB.txt; 0: any free port). Credentials from the environment:
                      IPSEC_ES_SNMP_COMMUNITY (SNMPv2c, read-write) and/or IPSEC_ES_SNMP_USER,
                      IPSEC_ES_SNMP_AUTH, IPSEC_ES_SNMP_PRIV (SNMPv3 authPriv: SHA-256, AES-128)
  --snmp-address <addr>  address the SNMP agent binds (default 127.0.0.1)
<state> is the --store directory, or --state-dir for a URL store.
${COMMON_HELP}

Needs root (CAP_NET_ADMIN) and /dev/net/tun. SIGHUP reloads the policy file (new static SAs are
installed; a complete new pair replaces the live one make-before-break: a manual rekey). The file
owns the policies it names; rules created over SNMP stay until a manager removes them. With --kek
an IKE SA survives a restart (its keys are sealed in <state>/keys); without, the log records it
deleted (reason restart), and traffic negotiates afresh.
SIGUSR2 prints a status line (JSON); SIGTERM or SIGINT stops cleanly (exit 0).`,
  options: {
    config: { type: 'string' }, store: { type: 'string' }, 'state-dir': { type: 'string' }, tun: { type: 'string', default: 'ipsec0' }, mtu: { type: 'string', default: '1400' },
    listen: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '4500' }, 'ike-port': { type: 'string', default: '500' }, 'natt-keepalive': { type: 'string', default: '20' }, esp: { type: 'string', default: 'udp' }, crypto: { type: 'string' }, route: { type: 'string', multiple: true, default: [] },
    offload: { type: 'string' }, control: { type: 'string' }, kek: { type: 'string' }, metrics: { type: 'string' }, snmp: { type: 'string' }, 'snmp-address': { type: 'string' },
  },
  async run({ values }, io) {
    if (!values.config || !values.store) throw new CliError('gateway: --config and --store are required (see --help)', EXIT.usage);
    const mtu = intFlag(values, 'mtu', 1400, 576, 65535);
    const port = intFlag(values, 'port', 4500, 1, 65535);
    const snmp = snmpOptionsFrom(values, process.env);
    const ikePort = intFlag(values, 'ike-port', 500, 0, 65535);
    const keepaliveS = intFlag(values, 'natt-keepalive', 20, 0, 3600);
    let metrics: { host?: string; port: number } | undefined;
    if (values.metrics !== undefined) {
      const m = /^(?:(.+):)?(\d+)$/.exec(String(values.metrics));
      if (!m || Number(m[2]) > 65535) throw new CliError(`--metrics must be <port> or <host>:<port>, got ${String(values.metrics)}`, EXIT.usage);
      metrics = { port: Number(m[2]), ...(m[1] ? { host: m[1] } : {}) };
    }
    let nic;
    if (values.offload !== undefined) {
      const m = /^emulated(?::(\d+))?$/.exec(String(values.offload));
      if (!m) throw new CliError(`--offload must be emulated or emulated:<capacity>, got ${String(values.offload)}`, EXIT.usage);
      const { emulatedNic } = await import('../../adapters/nic/emulatedNic.js');
      nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: m[1] === undefined ? 1024 : Number(m[1]) } });
    }
    const crypto = cryptoBackendFrom(String(values.crypto ?? process.env.IPSEC_ES_CRYPTO ?? 'auto'), (line) => io.out(line));
    const store = parseStoreSpec(String(values.store));
    const stateDir = stateDirectory(store, values);
    const keys = values.kek ? await openKeyStore(join(stateDir, 'keys'), String(values.kek)) : undefined;
    const { openLinuxTun } = await import('../../adapters/tun/linuxTun.js');
    const { udpBind } = await import('../../adapters/udp/udpBind.js');
    const { nativeUdpBind } = await import('../../adapters/udp/nativeUdpBind.js');
    const listen = String(values.listen);
    if (values.esp !== 'udp' && values.esp !== 'raw') throw new CliError(`--esp must be udp or raw, got ${String(values.esp)}`, EXIT.usage);
    const { rawEspBind } = await import('../../adapters/udp/rawEspBind.js');
    const running = await runGateway({
      config: String(values.config),
      store,
      stateDir,
      tun: async () => openLinuxTun({ name: String(values.tun), mtu, up: true, routes: values.route as string[] }),
      // Batched syscalls (sendmmsg/recvmmsg) through our addon; node:dgram when it is not built.
      bind: async () => {
        if (values.esp === 'raw') return rawEspBind({ family: listen.includes(':') ? 6 : 4, address: listen });
        try {
          return await nativeUdpBind({ address: listen, port });
        } catch (e) {
          if ((e as { code?: string }).code !== 'bind.nativeUnavailable') throw e;
          io.out(JSON.stringify({ event: 'notice', message: `batched UDP unavailable (${(e as Error).message}); using node:dgram` }));
          return udpBind({ address: listen, port });
        }
      },
      ...(ikePort > 0 ? { ikeBind: () => udpBind({ address: listen, port: ikePort }) } : {}),
      ike: { keepaliveMs: keepaliveS * 1000 },
      ...(nic ? { nic } : {}),
      ...(keys ? { keys } : {}),
      ...(metrics ? { metricsPort: metrics.port, ...(metrics.host ? { metricsHost: metrics.host } : {}) } : {}),
      ...(values.control ? { control: String(values.control) } : {}),
      ...(snmp ? { snmp } : {}),
      crypto,
      log: (line) => io.out(line),
    });
    process.on('SIGUSR2', () => io.out(JSON.stringify({ event: 'status', ...running.status() })));
    process.on('SIGHUP', () => void running.reload().catch((e: unknown) => io.out(JSON.stringify({ event: 'reloadFailed', message: (e as Error).message }))));
    io.out(JSON.stringify({ event: 'running', tun: running.tun.name, udp: values.esp === 'raw' ? `raw ESP on ${running.bind.localAddress}` : `${running.bind.localAddress}:${running.bind.localPort}`, ...(running.metricsPort !== undefined ? { metrics: running.metricsPort } : {}), ...(running.snmp ? { snmp: running.snmp } : {}) }));
    await new Promise<void>((resolve) => {
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
    });
    io.out(JSON.stringify({ event: 'stopping', ...running.status() }));
    await running.stop();
    await keys?.close();
    return EXIT.ok;
  },
};
