/**
 * A test-only gateway process that carries ESP as IP protocol 50 (`rawEspBind` + `rawEspWire`)
 * instead of ESP in UDP: what `ipsec-es gateway --esp raw` will run once cli/gateway.ts picks the
 * wire by the bind (`isRawEspBind`). Until then this is runGateway's data path (cli/gateway.ts)
 * with the raw wire in place of `udpWire`: the same policy file, static SAs, embedded event log
 * on disk, TUN device and RxJS pipelines; no control socket, no reload.
 *
 * Usage (root, in the gateway's namespace):
 *   node --import tsx test/e2e/rawGatewayMain.ts --config a.xml --store DIR [--tun ipsec0] [--listen ADDR] [--route PREFIX]...
 * Prints JSON lines: started, running, status (on SIGUSR2), stopping (on SIGTERM), then exits 0.
 */
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromEventPattern, Subject } from 'rxjs';
import { factLog, readLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { systemClock } from '../../adapters/clock/systemClock.js';
import { cryptoRandom } from '../../adapters/random/random.js';
import { loadPolicyFile } from '../../adapters/policyFile/loader.js';
import { openLinuxTun } from '../../adapters/tun/linuxTun.js';
import { rawEspBind, rawEspWire } from '../../adapters/udp/rawEspBind.js';
import { Spd } from '../../engine/spd/spd.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { inbound, outbound } from '../../streams/pipelines.js';
import { staticSaInstallSpecs } from '../../cli/staticSas.js';

const say = (line: Record<string, unknown>) => console.log(JSON.stringify(line));
const { values } = parseArgs({ options: { config: { type: 'string' }, store: { type: 'string' }, tun: { type: 'string', default: 'ipsec0' }, listen: { type: 'string', default: '0.0.0.0' }, route: { type: 'string', multiple: true, default: [] } }, strict: true });
if (!values.config || !values.store) throw new Error('--config and --store are required');

const file = await loadPolicyFile(values.config);
const store = await fileLogEventStore({ directory: join(values.store, 'log') });
const keys = memoryKeyStore();
const specs = await staticSaInstallSpecs(file.staticSas);
const logged = new Set((await readLog(store)).map((l) => l.streamName));
for (const s of specs) if (logged.has(`sa-${s.id}`)) await keys.put(`sa-${s.id}`, { ...s.keys });
const gateway = new Gateway({ name: file.path, deps: { clock: systemClock, random: cryptoRandom, log: factLog(store) }, keys, spd: new Spd(file.policies, { defaultOutbound: file.defaultAction, defaultInbound: file.defaultAction }) });
const known = [...logged].filter((s) => s.startsWith('sa-')).map((s) => s.slice(3));
await gateway.restore(known);
for (const s of specs) if (!logged.has(`sa-${s.id}`)) await gateway.installSa(s);
say({ event: 'started', restored: known.length, sas: gateway.saIds().map((id) => ({ id, status: gateway.state(id)?.status })) });

const tun = await openLinuxTun({ name: values.tun!, mtu: 1400, up: true, routes: values.route as string[] });
const bind = await rawEspBind({ family: isIP(values.listen!) === 6 ? 6 : 4, address: values.listen! });
const fromTun = fromEventPattern<readonly Uint8Array[]>((h) => tun.read(h, (e) => say({ event: 'tunError', message: e.message })), (_h, stop: () => void) => stop());
const fromWire = new Subject<Uint8Array[]>();
// Each raw ESP packet says which of our addresses it was sent to: no `local` needed.
const wire = rawEspWire({ bind, drops: gateway.drops, onDatagrams: (batch) => fromWire.next(batch) });
const subs = [fromTun.pipe(outbound(gateway)).subscribe((packets) => wire.send(packets)), fromWire.pipe(inbound(gateway)).subscribe((packets) => tun.write(packets))];
const status = () => ({
  sas: gateway.saIds().map((id) => { const s = gateway.state(id)!; return { id, status: s.status, direction: s.params?.direction, spi: s.params?.spi, usage: s.usage }; }),
  drops: Object.fromEntries(Object.entries(gateway.drops.global).filter(([, n]) => n > 0)),
  tun: tun.stats(),
  raw: bind.counters,
  wire: wire.counters,
});
process.on('SIGUSR2', () => say({ event: 'status', ...status() }));
say({ event: 'running', tun: tun.name, esp: `raw IPv${bind.family} on ${bind.localAddress}` });
await new Promise<void>((resolve) => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
});
say({ event: 'stopping', ...status() });
for (const s of subs) s.unsubscribe();
await gateway.settled().catch(() => {});
gateway.stop();
await Promise.allSettled([tun.close(), bind.close()]);
await store.close();
process.exit(0);
