/**
 * A gateway process keyed by IKEv2 (machines/ikeSa) on a real TUN device and the ESP-in-UDP
 * socket, for the interop tests: what `ipsec-es gateway` runs once the CLI wires the IKE daemon
 * in (the policy file's `<conn-entry>`s). Policies from the file, the embedded event log on disk,
 * the TUN device, the native UDP bind (node:dgram when the addon is missing), IKE on port 4500
 * behind the non-ESP marker.
 *
 * Usage (root, in the gateway's namespace):
 *   node --import tsx test/e2e/ikeGatewayMain.ts --config a.xml --store DIR [--tun ipsec0] [--route PREFIX]... [--initiate CONN]
 * Prints JSON lines: running, status (SIGUSR2), ike (each exchange), stopping (SIGTERM).
 * Reads commands on stdin, one per line: `initiate <conn>`, `delete-ike`, `delete-child`, `status` (our rekeys come from the file's lifetimes).
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fromEventPattern, Subject } from 'rxjs';
import { factLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { systemClock } from '../../adapters/clock/systemClock.js';
import { cryptoRandom } from '../../adapters/random/random.js';
import { loadPolicyFile } from '../../adapters/policyFile/loader.js';
import { openLinuxTun } from '../../adapters/tun/linuxTun.js';
import { nativeUdpBind } from '../../adapters/udp/nativeUdpBind.js';
import { udpBind } from '../../adapters/udp/udpBind.js';
import { udpWire } from '../../adapters/udp/wire.js';
import { Spd } from '../../engine/spd/spd.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { IkeDaemon } from '../../machines/ikeSa/ikeDaemon.js';
import { ikePeersFromDocument } from '../../machines/ikeSa/ikeConfig.js';
import { inbound, outbound } from '../../streams/pipelines.js';
import { resolveKeyRef } from '../../cli/staticSas.js';

const say = (line: Record<string, unknown>) => console.log(JSON.stringify(line));
const { values } = parseArgs({ options: { config: { type: 'string' }, store: { type: 'string' }, tun: { type: 'string', default: 'ipsec0' }, route: { type: 'string', multiple: true, default: [] }, initiate: { type: 'string' } }, strict: true });
if (!values.config || !values.store) throw new Error('--config and --store are required');

const file = await loadPolicyFile(values.config);
const peers = await ikePeersFromDocument(file.doc, resolveKeyRef);
const store = await fileLogEventStore({ directory: join(values.store, 'log') });
const log = factLog(store);
const deps = { clock: systemClock, random: cryptoRandom, log };
const gateway = new Gateway({ name: file.path, deps, keys: memoryKeyStore(), spd: new Spd(file.policies, { defaultOutbound: file.defaultAction, defaultInbound: file.defaultAction }) });
const tun = await openLinuxTun({ name: values.tun!, mtu: 1400, up: true, routes: values.route as string[] });
const bind = await nativeUdpBind({ address: '0.0.0.0', port: 4500 }).catch(() => udpBind({ address: '0.0.0.0', port: 4500 }));
const fromTun = fromEventPattern<readonly Uint8Array[]>((h) => tun.read(h, (e) => say({ event: 'tunError', message: e.message })), (_h, stop: () => void) => stop());
const fromWire = new Subject<Uint8Array[]>();
// eslint-disable-next-line prefer-const
let ike: IkeDaemon;
const wire = udpWire({ bind, drops: gateway.drops, local: { v4: peers[0]?.local.address ?? '0.0.0.0' }, onDatagrams: (batch) => fromWire.next(batch), onIke: (m, remote) => ike.receive(m, remote, true) });
// IKE on port 500 too (RFC 7296 §2: peers start there; after NAT detection they move to 4500, §2.23).
const ike500 = await udpBind({ address: '0.0.0.0', port: 500 });
ike500.onReceive((batch) => { for (const d of batch) ike.receive(d.data, { address: d.address, port: d.port }, false); });
ike = new IkeDaemon({ gateway, deps, peers, transport: { send: (m, to, natT) => (natT ? wire.sendIke(m, to) : ike500.send([{ data: m.slice(), address: to.address, port: to.port }])) } });
gateway.keyManager = ike;
const subs = [
  fromTun.pipe(outbound(gateway)).subscribe((packets) => wire.send(packets)),
  fromWire.pipe(inbound(gateway)).subscribe((packets) => tun.write(packets)),
];
const live = () => gateway.saIds().filter((id) => { const s = gateway.state(id)?.status; return s === 'mature' || s === 'rekeying'; });
const status = () => ({
  sas: gateway.saIds().map((id) => { const s = gateway.state(id)!; return { id, status: s.status, direction: s.params?.direction, spi: s.params?.spi?.toString(16), usage: s.usage, deleted: s.deleted?.reason }; }),
  ike: ike.list(),
  ikeCounters: ike.counters,
  drops: Object.fromEntries(Object.entries(gateway.drops.global).filter(([, n]) => n > 0)),
  wire: wire.counters,
});
store.subscribe({}).subscribe((e) => { if (e.streamName.startsWith('ike-')) say({ event: 'fact', stream: e.streamName, type: e.type, data: e.data }); });
process.on('SIGUSR2', () => say({ event: 'status', ...status() }));
say({ event: 'running', tun: tun.name, udp: `${bind.localAddress}:${bind.localPort}`, peers: peers.map((p) => p.name) });
if (values.initiate) ike.initiate(values.initiate).then((pair) => say({ event: 'initiated', ...pair }), (e: unknown) => say({ event: 'initiateFailed', message: (e as Error).message }));

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  const outbound = live().find((id) => gateway.state(id)?.params?.direction === 'outbound');
  const run = async () => {
    switch (cmd) {
      case 'initiate': return ike.initiate(arg ?? peers[0]!.name);
      case 'delete-ike': return ike.deleteIkeSa(ike.list()[0]!.ikeSaId);
      case 'delete-child': {
        const pair = gateway.state(outbound!)!.params!.pairedSaId!;
        gateway.deleteSa(outbound!, 'operator');
        gateway.deleteSa(pair, 'operator');
        return {};
      }
      case 'status': return status();
      default: throw new Error(`unknown command ${cmd}`);
    }
  };
  run().then((r) => say({ event: 'done', cmd, result: r ?? null }), (e: unknown) => say({ event: 'failed', cmd, message: (e as Error).message }));
});

await new Promise<void>((resolve) => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
});
say({ event: 'stopping', ...status() });
for (const s of subs) s.unsubscribe();
ike.stop();
await gateway.settled().catch(() => {});
gateway.stop();
await Promise.allSettled([tun.close(), bind.close(), ike500.close()]);
await store.close();
process.exit(0);
