/**
 * `ipsec-es gateway`: one gateway process on a real TUN device and a UDP socket (ESP-in-UDP,
 * RFC 3948), with the embedded event store in a directory. Policies and static (manually keyed)
 * SAs come from an XML policy file; on a restart the SAs are rebuilt from the log (their keys
 * from the same file) and the outbound sequence resumes past the last checkpoint plus a margin.
 * When the file has `<conn-entry>`s, an IKEv2 daemon (machines/ikeSa) keys the gateway: an SA
 * miss starts IKE (ACQUIRE), lifetimes rekey, DELETEs are honoured; IKE listens on UDP 500 and
 * behind the non-ESP marker on the ESP-in-UDP port.
 */
import type { CryptoBackendName } from '../engine/crypto/types.js';
import { join } from 'node:path';
import { fromEventPattern, Subject } from 'rxjs';
import { factLog, readLog } from '../adapters/eventStore/facts.js';
import { memoryKeyStore } from '../adapters/keyStore/memoryKeyStore.js';
import { systemClock } from '../adapters/clock/systemClock.js';
import { cryptoRandom } from '../adapters/random/random.js';
import { loadPolicyFile } from '../adapters/policyFile/loader.js';
import type { TunDevice } from '../adapters/tun/types.js';
import type { DatagramBind } from '../adapters/udp/types.js';
import { Spd } from '../engine/spd/spd.js';
import { Gateway } from '../machines/gateway/gateway.js';
import { inbound, outbound } from '../streams/pipelines.js';
import { staticSaInstallSpecs } from './staticSas.js';
import { udpWire } from '../adapters/udp/wire.js';
import { isRawEspBind, rawEspWire } from '../adapters/udp/rawEspBind.js';
import type { EmulatedNic } from '../adapters/nic/emulatedNic.js';
import { serveControl } from './control.js';
import type { EventStore } from '../adapters/eventStore/types.js';
import type { KeyStore } from '../adapters/keyStore/types.js';
import { Histogram, serveMetrics } from '../adapters/metrics/prometheus.js';
import { APPEND_BUCKETS, gatewayMetrics, policyRow, saRow, statsOf } from './gatewayViews.js';
import { startCapture, tappedBind, type WireCapture } from './capture.js';
import { IkeDaemon, type IkePeerConfig } from '../machines/ikeSa/ikeDaemon.js';
import { ikePeersFromDocument } from '../machines/ikeSa/ikeConfig.js';
import { resolveKeyRef } from './staticSas.js';
import { ensureStateDirectory, openEventStore, type StoreSpec } from './storeSpec.js';
import { attachPolicies, startSnmp, type SnmpOptions } from './snmpOption.js';

export interface GatewayProcessOptions {
  /** The XML policy file. */
  config: string;
  /** Where the event log is: a directory of the embedded file log (created if missing), PostgreSQL or KurrentDB (`parseStoreSpec`). */
  store: StoreSpec;
  /** Where the control socket (and, with --kek, the sealed keys) go: the store directory, or `--state-dir` for a URL store (`stateDirectory`). */
  stateDir: string;
  /** Opens the TUN device (the real one, or `memoryTun()` in tests). */
  tun: () => Promise<TunDevice>;
  /** Opens the UDP socket (port 4500 by default). */
  bind: () => Promise<DatagramBind>;
  /**
   * Opens IKE's own UDP socket (port 500, RFC 7296 §2), used only when the policy file has
   * `<conn-entry>`s; without it IKE runs on `bind`'s port alone (behind the non-ESP marker).
   */
  ikeBind?: () => Promise<DatagramBind>;
  /** IKE retransmission timeouts (default 0.5, 1, 2, 4, 8 s), liveness checks (default off) and NAT-keepalives (default 20 s, 0 = off). */
  ike?: { retransmitMs?: readonly number[]; dpdMs?: number; keepaliveMs?: number };
  /** Our address on the WAN, when the bind is on a wildcard (default: the inbound SAs' destination). */
  localAddress?: string;
  /** An offload NIC (e.g. `emulatedNic()`); SAs whose policy prefers offload are offered to it. */
  nic?: EmulatedNic;
  /** The control socket's path (default `<store>/control.sock`). */
  control?: string;
  /** Where status lines go (JSON, one per line). */
  log?: (line: string) => void;
  /**
   * Where SA keys go (default: in memory; static keys are in the policy file anyway). A sealed
   * key store (`sealedFileKeyStore`) lets `ipsec-es export-wireshark` read them back with the KEK.
   */
  keys?: KeyStore;
  /** Serve Prometheus metrics on this port (127.0.0.1 unless `metricsHost`); off by default. */
  metricsPort?: number;
  metricsHost?: string;
  /** Serve the SPD over SNMP (RFC 4807; `snmpOptionsFrom` in ./snmpOption.ts); off by default. */
  snmp?: SnmpOptions;
  /** Who does the ESP arithmetic (default `node`; the CLI picks `native` when the addon is built). */
  crypto?: CryptoBackendName;
}

export interface RunningGateway {
  gateway: Gateway;
  /** The IKEv2 daemon, when the policy file has `<conn-entry>`s. */
  ike?: IkeDaemon;
  /**
   * Reads the policy file again (SIGHUP): the file's policies are put back as it names them (the
   * file owns its ids; rules made over SNMP stay), static SAs new to the file are
   * installed, and a complete new pair for a policy that has a live pair replaces it make-before-
   * break (the old outbound SA leaves at once, the old inbound drains): a manual rekey.
   */
  reload(): Promise<{ installed: string[]; rekeyed: string[] }>;
  tun: TunDevice;
  bind: DatagramBind;
  /** Counters and SA states, JSON-safe. */
  status(): Record<string, unknown>;
  /** The metrics endpoint's port, when serving. */
  metricsPort?: number;
  /** The SNMP agent's address and port, when serving. */
  snmp?: { address: string; port: number };
  stop(): Promise<void>;
}

/**
 * Starts a gateway process's data and control planes.
 *
 * @example
 * const gw = await runGateway({ config: 'gw-a.xml', store: parseStoreSpec('/var/lib/ipsec-es/a'), stateDir: '/var/lib/ipsec-es/a', tun: () => openLinuxTun({ name: 'ipsec0' }), bind: () => udpBind({ address: '0.0.0.0', port: 4500 }) });
 */
export async function runGateway(o: GatewayProcessOptions): Promise<RunningGateway> {
  const say = o.log ?? ((line: string) => console.log(line));
  const file = await loadPolicyFile(o.config);
  await ensureStateDirectory(o.stateDir);
  const openedStore = await openEventStore(o.store, { applicationName: 'ipsec-es gateway' });
  const fileStore = openedStore.store;
  const keys = o.keys ?? memoryKeyStore();
  // Every append timed (until durable) for the metrics, and the log's last position kept.
  const appendLatency = new Histogram(APPEND_BUCKETS);
  let appended = 0;
  let position = 0n;
  const store: EventStore = {
    readStream: (...args) => fileStore.readStream(...args),
    readAll: (...args) => fileStore.readAll(...args),
    subscribe: (...args) => fileStore.subscribe(...args),
    close: () => fileStore.close(),
    appendToStream: async (...args) => {
      const t0 = performance.now();
      const r = await fileStore.appendToStream(...args);
      appendLatency.observe((performance.now() - t0) / 1000);
      appended += args[1].length;
      if (r.lastGlobalPosition > position) position = r.lastGlobalPosition;
      return r;
    },
  };
  const specs = await staticSaInstallSpecs(file.staticSas);
  const before = await readLog(store);
  position = before.at(-1)?.position ?? 0n;
  const logged = new Set(before.map((l) => l.streamName));
  // Static keys live in the policy file: put those of logged SAs where a restore looks for them
  // (`installSa` stores the keys of the others).
  for (const s of specs) if (logged.has(`sa-${s.id}`)) await keys.put(`sa-${s.id}`, { ...s.keys });
  // One set of machine dependencies for the gateway, its policy service and its IKE daemon.
  const deps = { clock: systemClock, random: cryptoRandom, log: factLog(store) };
  const gateway = new Gateway({ name: file.path, deps, keys, spd: new Spd(file.policies, { defaultOutbound: file.defaultAction, defaultInbound: file.defaultAction }), ...(o.nic ? { nic: o.nic } : {}), ...(o.crypto ? { backend: o.crypto } : {}) });
  // The SPD's one owner: policies made over SNMP come back from the log, then the file's are facts too.
  const policies = await attachPolicies({ spd: gateway.spd, ...deps, streams: logged, file });
  await gateway.offload?.ready();
  const peers: IkePeerConfig[] = await ikePeersFromDocument(file.doc, resolveKeyRef).catch((e: unknown) => {
    throw new Error(`${o.config}: ${(e as Error).message}`);
  });
  const restored = [...logged].filter((s) => s.startsWith('sa-')).map((s) => s.slice(3));
  const { keysLost } = await gateway.restore(restored);
  const ikeIds = [...logged].filter((s) => s.startsWith('ike-')).map((s) => s.slice(4));
  await gateway.restoreIkeSas(ikeIds);
  // Static SAs new to the log, before the wire below learns our addresses from the inbound ones.
  for (const s of specs) if (!logged.has(`sa-${s.id}`)) await gateway.installSa(s);

  const tun = await o.tun();
  const opened = await o.bind();
  if (peers.length > 0 && isRawEspBind(opened)) {
    await Promise.allSettled([tun.close(), opened.close(), openedStore.close()]);
    throw new Error(`${o.config} has IKE connections (<conn-entry>), and IKE with raw ESP (--esp raw) is not supported yet: use --esp udp (the default)`);
  }
  const bind = tappedBind(opened);
  const fromTun = fromEventPattern<readonly Uint8Array[]>((h) => tun.read(h, (e) => say(JSON.stringify({ event: 'tunError', message: e.message }))), (_h, stop: () => void) => stop());
  const fromWireIn = new Subject<Uint8Array[]>();
  // Node does not say which local address a datagram came to; the SAD looks inbound SAs up by
  // (SPI, destination): on a wildcard bind, our address is the inbound SAs' tunnel destination.
  const ours = (family: 4 | 6) => gateway.saIds().map((id) => gateway.state(id)?.params).find((p) => p?.direction === 'inbound' && (p.dst.includes(':') ? 6 : 4) === family)?.dst;
  // With IKE there may be no SA yet: the connections' local addresses say where we are.
  const ikeLocal = (family: 4 | 6) => peers.map((p) => p.local.address).find((a) => (a.includes(':') ? 6 : 4) === family);
  const v4 = o.localAddress ?? ours(4) ?? ikeLocal(4);
  const v6 = ours(6) ?? ikeLocal(6);
  const local = { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
  // A raw ESP bind (IP protocol 50) carries the engine's IP + ESP datagrams; a UDP bind ESP in UDP (RFC 3948).
  let ike: IkeDaemon | undefined;
  const wire = isRawEspBind(opened)
    ? rawEspWire({ bind, drops: gateway.drops, local, onDatagrams: (batch) => fromWireIn.next(batch) })
    : udpWire({ bind, drops: gateway.drops, local, onDatagrams: (batch) => fromWireIn.next(batch), ...(peers.length ? { onIke: (m: Uint8Array, remote: { address: string; port: number }) => ike?.receive(m, remote, true) } : {}) });
  let ikeBind: DatagramBind | undefined;
  if (peers.length > 0) {
    const udp = wire as ReturnType<typeof udpWire>;
    // RFC 7296 §2: a peer starts on port 500 and moves to 4500 after NAT detection (§2.23).
    ikeBind = o.ikeBind ? await o.ikeBind() : undefined;
    ikeBind?.onReceive((batch) => {
      for (const d of batch) ike!.receive(d.data, { address: d.address, port: d.port }, false);
    });
    ike = new IkeDaemon({
      gateway,
      deps,
      peers,
      localPort: opened.localPort,
      ...(o.ike?.retransmitMs ? { retransmitMs: o.ike.retransmitMs } : {}),
      ...(o.ike?.dpdMs ? { dpdMs: o.ike.dpdMs } : {}),
      ...(o.ike?.keepaliveMs !== undefined ? { keepaliveMs: o.ike.keepaliveMs } : {}),
      transport: {
        send: (m, to, natT) => (natT || !ikeBind ? udp.sendIke(m, to) : ikeBind.send([{ data: m.slice(), address: to.address, port: to.port }])),
        keepalive: (to) => udp.sendKeepalive(to),
      },
    });
    gateway.keyManager = ike;
  }
  // The IKE SAs the log has alive: the daemon takes each back when its keys survived (a sealed
  // key store, --kek); otherwise it is recorded as deleted (reason restart) with its CHILD SAs,
  // the next packet negotiates afresh, and our INITIAL_CONTACT (RFC 7296 §2.4) tells the peer
  // to drop its old state.
  const ikeRehydrated: string[] = [];
  const ikeEnded: Array<{ id: string; why: string }> = [];
  for (const id of gateway.ikeSaIds().filter((x) => gateway.ikeState(x)?.status !== 'dead')) {
    const r = ike ? await ike.rehydrate(id) : { ok: false as const, why: 'the policy file has no IKE connections now' };
    if (r.ok) ikeRehydrated.push(id);
    else {
      ikeEnded.push({ id, why: r.why });
      gateway.sendIke(id, { type: 'ike.delete', reason: 'restart' });
    }
  }
  await gateway.settled();
  // Keys gone and no IKE SA took the SA with it (a static SA no longer in the file, say): it cannot carry traffic.
  for (const id of keysLost) if (gateway.state(id)?.status !== 'dead') gateway.deleteSa(id, 'operator');
  await gateway.settled();
  say(JSON.stringify({
    event: 'started', store: openedStore.describe, crypto: o.crypto ?? 'node', restored: restored.length - keysLost.length, installed: specs.filter((s) => !logged.has(`sa-${s.id}`)).length,
    ...(keysLost.length || ikeEnded.length ? { ended: { sas: keysLost, ikeSas: ikeEnded.map((e) => e.id), why: ikeEnded.map((e) => e.why) } } : {}),
    ...(peers.length ? { ike: peers.map((p) => p.name), ...(ikeRehydrated.length ? { ikeRestored: ikeRehydrated } : {}) } : {}),
    sas: gateway.saIds().map((id) => ({ id, status: gateway.state(id)?.status })),
  }));
  // IKE's facts as status lines: what an operator watches while tunnels come and go.
  const ikeFacts = peers.length === 0 ? undefined : store.subscribe({ after: position }).subscribe((e) => {
    if (e.streamName.startsWith('ike-')) say(JSON.stringify({ event: 'ike', stream: e.streamName, type: e.type, data: e.data }));
  });
  const subs = [
    fromTun.pipe(outbound(gateway)).subscribe((packets) => wire.send(packets)),
    fromWireIn.pipe(inbound(gateway)).subscribe((packets) => tun.write(packets)),
  ];
  const status = () => ({
    sas: gateway.saIds().map((id) => { const s = gateway.state(id)!; return { id, status: s.status, direction: s.params?.direction, spi: s.params?.spi, usage: s.usage }; }),
    drops: Object.fromEntries(Object.entries(gateway.drops.global).filter(([, n]) => n > 0)),
    tun: tun.stats(),
    udp: bind.counters,
    wire: wire.counters,
    ...(o.nic ? { nic: { ...o.nic.counters, sas: o.nic.saCount } } : {}),
    ...(ike ? { ike: { sas: ike.list(), counters: ike.counters } } : {}),
  });
  const interfaces = () => ({ tun: { ...tun.stats() }, udp: { ...bind.counters }, wire: { ...wire.counters }, ...(o.nic ? { nic: { ...o.nic.counters, sas: o.nic.saCount } } : {}) });
  let capture: WireCapture | undefined;
  const reload = async () => {
    const next = await loadPolicyFile(o.config);
    const specs = await staticSaInstallSpecs(next.staticSas);
    const policyChanges = await policies.reload(next);
    const fresh = specs.filter((s) => gateway.state(s.id) === undefined);
    for (const s of fresh) await gateway.installSa(s);
    const rekeyed: string[] = [];
    for (const out of fresh.filter((s) => s.params.direction === 'outbound' && s.params.pairedSaId)) {
      const inboundSaId = out.params.pairedSaId!;
      if (gateway.state(inboundSaId)?.status !== 'mature') continue;
      const old = gateway.saIds().find((id) => { const st = gateway.state(id); return id !== out.id && st?.status === 'mature' && st.params?.direction === 'outbound' && st.params.policyId === out.params.policyId && st.params.pairedSaId !== undefined; });
      if (!old) continue;
      gateway.rekeys.adopt({ outboundSaId: old, inboundSaId: gateway.state(old)!.params!.pairedSaId! }, { outboundSaId: out.id, inboundSaId }, `manual-rekey-${out.id}`);
      rekeyed.push(old);
    }
    await gateway.settled();
    const result = { installed: fresh.map((s) => s.id), rekeyed };
    say(JSON.stringify({ event: 'reloaded', ...result, policies: policyChanges.map((c) => c.id) }));
    return result;
  };
  /** The SA of the other direction: its `pairedSaId`, or the SA whose `pairedSaId` it is. */
  const pairOf = (id: string) => gateway.state(id)?.params?.pairedSaId ?? gateway.saIds().find((o) => gateway.state(o)?.params?.pairedSaId === id);
  const known = (id: unknown) => {
    if (typeof id !== 'string' || gateway.state(id) === undefined) throw new Error(`no SA ${String(id)} (ipsec-es list-sas shows the ids)`);
    return id;
  };
  const control = await serveControl(o.control ?? join(o.stateDir, 'control.sock'), {
    status: () => status(),
    reload: () => reload(),
    'list-sas': async () => {
      await gateway.settled();
      return { sas: gateway.saIds().map((id) => saRow(gateway, id)), ...(ike ? { ikeSas: ike.list() } : {}), position: position.toString() };
    },
    'list-pols': () => ({ policies: gateway.spd.list().map(policyRow) }),
    stats: (r) => statsOf(gateway, interfaces(), r.saId === undefined ? undefined : known(r.saId)),
    // swanctl --terminate --child: the SA and its pair, reason operator, each a fact first.
    terminate: async (r) => {
      if (r.ikeSaId !== undefined) {
        if (!ike || !ike.list().some((x) => x.ikeSaId === r.ikeSaId)) throw new Error(`no IKE SA ${String(r.ikeSaId)} (ipsec-es list-sas shows the ids)`);
        await ike.deleteIkeSa(String(r.ikeSaId), 'operator');
        await gateway.settled();
        return { deleted: [String(r.ikeSaId)], position: position.toString() };
      }
      const id = known(r.saId);
      const ids = [id, ...(r.pair !== false && pairOf(id) ? [pairOf(id)!] : [])].filter((x) => gateway.state(x)?.status !== 'dead');
      if (ids.length === 0) throw new Error(`SA ${id} is already dead (${gateway.state(id)?.deleted?.reason ?? 'deleted'})`);
      for (const x of ids) gateway.deleteSa(x, 'operator');
      await gateway.settled();
      return { deleted: ids, position: position.toString() };
    },
    // Negotiated SAs: a CREATE_CHILD_SA rekey (RFC 7296 §2.8). Static keys: the next generation
    // comes from the policy file (as SIGHUP does). Make-before-break either way.
    rekey: async (r) => {
      const id = known(r.saId);
      const outboundId = gateway.state(id)?.params?.direction === 'outbound' ? id : pairOf(id);
      if (!outboundId || gateway.state(outboundId)?.status !== 'mature') throw new Error(`SA ${id} has no mature outbound SA to replace (status ${gateway.state(outboundId ?? id)?.status})`);
      if (ike && !specs.some((s) => s.id === outboundId)) {
        const replaced = [outboundId, ...(pairOf(outboundId) ? [pairOf(outboundId)!] : [])];
        gateway.rekeys.request(outboundId);
        for (const end = Date.now() + 30_000; gateway.state(outboundId)?.status !== 'dying' && gateway.state(outboundId)?.status !== 'dead'; await new Promise((w) => setTimeout(w, 20))) {
          if (Date.now() > end) throw new Error(`the rekey of ${outboundId} did not complete in 30 s (ipsec-es timeline --sa ${outboundId} says why)`);
          if (gateway.state(outboundId)?.status === 'mature' && !gateway.rekeys.running(outboundId)) throw new Error(`the rekey of ${outboundId} failed (ipsec-es timeline --sa ${outboundId} says why)`);
        }
        await gateway.settled();
        const next = gateway.state(outboundId)?.rekey?.newSaId;
        const by = next ? [next, ...(pairOf(next) ? [pairOf(next)!] : [])] : [];
        return { replaced, by, position: position.toString() };
      }
      const result = await reload();
      if (!result.rekeyed.includes(outboundId)) {
        throw new Error(`${o.config} holds no new key generation for ${outboundId}${result.installed.length ? ` (installed ${result.installed.join(', ')}; the new outbound SA is still missing)` : ''}: add the next <sad-entry> pair under the same reqid and run rekey again (negotiated rekeys come with IKEv2)`);
      }
      const by = result.installed;
      return { replaced: [outboundId, ...(pairOf(outboundId) ? [pairOf(outboundId)!] : [])], by, position: position.toString() };
    },
    initiate: (r) => {
      const policy = gateway.spd.get(String(r.policyId));
      if (!policy) throw new Error(`no policy ${String(r.policyId)} (ipsec-es list-pols shows the ids)`);
      if (policy.action !== 'protect' || policy.direction !== 'outbound') throw new Error(`policy ${policy.id} is not an outbound PROTECT policy: nothing to initiate`);
      const conn = peers.flatMap((p) => p.children.map((c) => ({ peer: p.name, child: c }))).find((x) => x.child.outPolicyId === policy.id);
      if (!ike || !conn) throw new Error(`no IKE connection (<conn-entry>) in ${o.config} serves policy ${policy.id}: its SAs are static, up as soon as the file is loaded`);
      return ike.initiate(conn.peer, conn.child.name).then((pair) => ({ ...pair, connection: conn.peer, child: conn.child.name, position: position.toString() }));
    },
    'capture.start': (r) => {
      if (capture) throw new Error(`a capture to ${capture.path} is running; stop it first`);
      if (typeof r.path !== 'string' || !r.path.startsWith('/')) throw new Error('capture.start: path must be an absolute file path');
      capture = startCapture(bind, r.path, { ...(v4 ? { local: v4 } : {}), ...(typeof r.maxPackets === 'number' ? { maxPackets: r.maxPackets } : {}), rawEsp: isRawEspBind(opened) });
      return { path: capture.path };
    },
    'capture.status': () => ({ capturing: capture !== undefined, packets: capture?.packets ?? 0 }),
    'capture.stop': async () => {
      if (!capture) throw new Error('no capture is running');
      const c = capture;
      capture = undefined;
      return await c.stop();
    },
    // Fault injection on the emulated NIC: the next packet over the SA carries SaDeleteReq.
    'nic.requestDelete': (r) => {
      const handle = gateway.state(String(r.saId))?.offload?.handle;
      if (!o.nic || handle === undefined) throw new Error(`SA ${String(r.saId)} is not offloaded`);
      o.nic.faults.requestDeleteOnNext(handle);
      return { handle };
    },
    facts: async (r) => ({ facts: (await readLog(store)).filter((l) => r.stream === undefined || l.streamName === r.stream).map((l) => ({ stream: l.streamName, type: l.fact.type, data: l.fact.data, at: l.fact.meta.at })) }),
  });
  const metrics = o.metricsPort === undefined ? undefined : await serveMetrics({
    port: o.metricsPort,
    ...(o.metricsHost ? { host: o.metricsHost } : {}),
    collect: () => gatewayMetrics(gateway, { appendLatency, appendedEvents: () => appended, logPosition: () => position, counters: interfaces() }),
  });
  const snmp = o.snmp ? await startSnmp(o.snmp, policies.service) : undefined;
  return {
    gateway, tun, bind, status, reload,
    ...(snmp ? { snmp: { address: snmp.address, port: snmp.port } } : {}),
    ...(ike ? { ike } : {}),
    ...(metrics ? { metricsPort: metrics.port } : {}),
    async stop() {
      await snmp?.close(); // first: a Set in progress still needs the log
      for (const s of subs) s.unsubscribe();
      ikeFacts?.unsubscribe();
      ike?.stop();
      control.close();
      metrics?.close();
      await capture?.stop().catch(() => {});
      await gateway.settled().catch(() => {});
      gateway.stop();
      await Promise.allSettled([tun.close(), bind.close(), ...(ikeBind ? [ikeBind.close()] : [])]);
      await openedStore.close();
    },
  };
}
