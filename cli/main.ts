#!/usr/bin/env node
/**
 * The `ipsec-es` command. `ipsec-es gateway --config policy.xml --store DIR` runs a gateway on a
 * real TUN device and UDP port 4500. More verbs (list-sas, replay, timeline, inspect, ...) come
 * with the CLI issue.
 */
import { parseArgs } from 'node:util';
import { runGateway } from './gateway.js';

const HELP = `ipsec-es — an IPsec gateway whose every state change is an event

Usage:
  ipsec-es gateway --config <policy.xml> --store <dir> [options]
  ipsec-es --help

gateway: runs a gateway on a Linux TUN device and ESP-in-UDP (RFC 3948) on UDP port 4500.
  --config <file>     XML policy file (schema/ipsec-es-policy.xsd): SPD and static SAs
  --store <dir>       directory of the embedded event log (created if missing); a restart
                      rebuilds the SAs from it
  --tun <name>        TUN device name (default ipsec0)
  --mtu <bytes>       TUN MTU (default 1400)
  --listen <address>  UDP address to bind (default 0.0.0.0)
  --port <n>          UDP port (default 4500)
  --route <prefix>    add a route to <prefix> through the TUN device (repeatable)
  --offload emulated[:N]  offload to an emulated NIC (NDIS IPsec offload v2 shaped, real
                      crypto) with room for N SAs (default 1024), where a policy prefers offload
  --control <path>    control socket (default <store>/control.sock): JSON lines, e.g.
                      {"cmd":"status"}, {"cmd":"facts"}, {"cmd":"reload"}
Needs root (CAP_NET_ADMIN) and /dev/net/tun. SIGHUP reloads the policy file (new static SAs are
installed; a complete new pair replaces the live one make-before-break: a manual rekey).
SIGUSR2 prints a status line (JSON); SIGTERM or SIGINT stops cleanly.

Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad arguments or configuration.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'gateway') {
    console.error(`ipsec-es: unknown command '${command}'\n\n${HELP}`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { config: { type: 'string' }, store: { type: 'string' }, tun: { type: 'string', default: 'ipsec0' }, mtu: { type: 'string', default: '1400' }, listen: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '4500' }, route: { type: 'string', multiple: true, default: [] }, offload: { type: 'string' }, control: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (e) {
    console.error(`ipsec-es gateway: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.config || !values.store) {
    console.error('ipsec-es gateway: --config and --store are required (see --help)');
    return 2;
  }
  const mtu = Number(values.mtu);
  const port = Number(values.port);
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) return usage(`--mtu must be an integer in 576..65535, got ${values.mtu}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usage(`--port must be an integer in 1..65535, got ${values.port}`);
  let nic;
  if (values.offload !== undefined) {
    const m = /^emulated(?::(\d+))?$/.exec(values.offload);
    if (!m) return usage(`--offload must be emulated or emulated:<capacity>, got ${values.offload}`);
    const { emulatedNic } = await import('../adapters/nic/emulatedNic.js');
    nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: m[1] === undefined ? 1024 : Number(m[1]) } });
  }
  const { openLinuxTun } = await import('../adapters/tun/linuxTun.js');
  const { udpBind } = await import('../adapters/udp/udpBind.js');
  const { nativeUdpBind } = await import('../adapters/udp/nativeUdpBind.js');
  const running = await runGateway({
    config: values.config,
    store: values.store,
    tun: async () => openLinuxTun({ name: values.tun!, mtu, up: true, routes: values.route as string[] }),
    // Batched syscalls (sendmmsg/recvmmsg) through our addon; node:dgram when it is not built.
    bind: async () => {
      try {
        return await nativeUdpBind({ address: values.listen!, port });
      } catch (e) {
        if ((e as { code?: string }).code !== 'bind.nativeUnavailable') throw e;
        console.log(JSON.stringify({ event: 'notice', message: `batched UDP unavailable (${(e as Error).message}); using node:dgram` }));
        return udpBind({ address: values.listen!, port });
      }
    },
    ...(nic ? { nic } : {}),
    ...(values.control ? { control: values.control } : {}),
  });
  process.on('SIGUSR2', () => console.log(JSON.stringify({ event: 'status', ...running.status() })));
  process.on('SIGHUP', () => void running.reload().catch((e: unknown) => console.log(JSON.stringify({ event: 'reloadFailed', message: (e as Error).message }))));
  console.log(JSON.stringify({ event: 'running', tun: running.tun.name, udp: `${running.bind.localAddress}:${running.bind.localPort}` }));
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  console.log(JSON.stringify({ event: 'stopping', ...running.status() }));
  await running.stop();
  return 0;
}

function usage(message: string): number {
  console.error(`ipsec-es gateway: ${message}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e as Error & { code?: string };
    console.error(`ipsec-es: ${err.message}`);
    process.exit(err.code === 'config.invalid' || err.name === 'PolicyFileError' || err.name === 'KeyRefError' ? 2 : 1);
  },
);
