/**
 * fast-check generators of valid policy documents: every value in range, every rule between
 * entries kept (unique names and SPIs, reqid links to a matching policy, disjoint SPI ranges,
 * PAD references, conn-entry tunnels equal to the connection's addresses).
 */
import { fc } from '@fast-check/vitest';
import { toHex } from '../../../engine/bytes.js';
import { formatIpAddress, maskTo, compareAddresses } from '../../../engine/policy/ipText.js';
import type {
  AddressDoc,
  ConnEntryDoc,
  ConnSpdEntryDoc,
  IdentityDoc,
  IpsecPolicyConfigDoc,
  IpsecSaCfgDoc,
  KeyDoc,
  LifetimeDoc,
  PadEntryDoc,
  PolicyDocument,
  SadEntryDoc,
  SpdEntryDoc,
  TrafficSelectorDoc,
} from '../../../engine/policy/model.js';
import { AH_INTEG_NAMES, ESP_SUITE_NAMES, ahIntegByName, ahKeyLength, espSuiteByName } from '../../../engine/policy/suiteNames.js';

type Family = 4 | 6;
type RawOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** Drops keys whose value is undefined, as a parsed document never has them. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
// Zero-heavy groups, so RFC 5952 `::` shortening is exercised.
const ipv6 = fc.oneof(
  fc
    .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((groups) => Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]))),
  // IPv4-mapped, written ::ffff:a.b.c.d (RFC 5952 §5).
  ipv4.map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
);
const address = (family: Family): fc.Arbitrary<Uint8Array> => (family === 4 ? ipv4 : ipv6);
export const family: fc.Arbitrary<Family> = fc.constantFrom(4 as const, 6 as const);

function addressDoc(f: Family): fc.Arbitrary<AddressDoc> {
  const bits = f === 4 ? 32 : 128;
  return fc.oneof(
    fc.constant<AddressDoc>({ kind: 'any' }),
    fc.constant<AddressDoc>({ kind: 'opaque' }),
    address(f).map((a): AddressDoc => ({ kind: 'single', address: formatIpAddress(a) })),
    fc.tuple(address(f), fc.integer({ min: 0, max: bits })).map(([a, length]): AddressDoc => ({ kind: 'prefix', address: formatIpAddress(maskTo(a, length)), length })),
    fc.tuple(address(f), address(f)).map(([a, b]): AddressDoc => {
      const [from, to] = compareAddresses(a, b) <= 0 ? [a, b] : [b, a];
      return { kind: 'range', from: formatIpAddress(from), to: formatIpAddress(to) };
    }),
  );
}

const sortedPair = (max: number) =>
  fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => ({ kind: 'range' as const, from: Math.min(a, b), to: Math.max(a, b) }));
const numberRange = (max: number) => fc.oneof(fc.constant({ kind: 'opaque' as const }), sortedPair(max));
const icmpRange = fc.oneof(
  fc.constant({ kind: 'opaque' as const }),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => {
    const [lo, hi] = [Math.min(a, b), Math.max(a, b)];
    return { kind: 'range' as const, from: { type: lo >> 8, code: lo & 0xff }, to: { type: hi >> 8, code: hi & 0xff } };
  }),
);
const PORTED = new Set([6, 17, 33, 132, 136]);

export function trafficSelector(f: Family): fc.Arbitrary<TrafficSelectorDoc> {
  return fc
    .record({
      local: addressDoc(f),
      remote: addressDoc(f),
      protocol: fc.option(
        fc.oneof(
          fc.constant({ kind: 'any' as const }),
          fc.constant({ kind: 'opaque' as const }),
          fc.constantFrom(1, 6, 17, 58, 132, 135).map((value) => ({ kind: 'number' as const, value })),
          fc.integer({ min: 0, max: 255 }).map((value) => ({ kind: 'number' as const, value })),
        ),
        { nil: undefined },
      ),
      localPorts: fc.option(numberRange(0xffff), { nil: undefined }),
      remotePorts: fc.option(numberRange(0xffff), { nil: undefined }),
      icmp: fc.option(icmpRange, { nil: undefined }),
      mhType: fc.option(numberRange(255), { nil: undefined }),
    })
    .map((r) => {
      const proto = r.protocol?.kind === 'number' ? r.protocol.value : undefined;
      const any = r.protocol === undefined || r.protocol.kind === 'any';
      const ports = (p: typeof r.localPorts) => (p?.kind === 'range' && proto !== undefined && !PORTED.has(proto) ? undefined : p);
      return compact<TrafficSelectorDoc>({
        local: r.local,
        remote: r.remote,
        innerProtocol: r.protocol,
        localPorts: ports(r.localPorts),
        remotePorts: ports(r.remotePorts),
        icmp: any || proto === 1 || proto === 58 ? r.icmp : undefined,
        mhType: any || proto === 135 ? r.mhType : undefined,
      });
    });
}

const limits: fc.Arbitrary<LifetimeDoc> = fc
  .record({
    timeMs: fc.option(fc.integer({ min: 1, max: 4_294_967_295_999 }), { nil: undefined }),
    bytes: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
    packets: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
  })
  .map((l) => compact<LifetimeDoc>(l));

/** Soft and hard lifetimes, each optional, soft never past hard. */
const lifetimes = fc
  .tuple(fc.option(limits, { nil: undefined }), fc.option(limits, { nil: undefined }))
  .map(([soft, hard]) => {
    if (soft && hard) {
      for (const k of ['timeMs', 'bytes', 'packets'] as const) {
        const s = soft[k];
        const h = hard[k];
        if (s !== undefined && h !== undefined && s > h) soft[k] = h;
      }
    }
    return { soft, hard };
  });

const tunnel = family.chain((f) => fc.tuple(address(f), address(f))).map(([l, r]) => ({ local: formatIpAddress(l), remote: formatIpAddress(r) }));

const saCfg: fc.Arbitrary<IpsecSaCfgDoc> = fc
  .record({
    extSeqNum: fc.option(fc.boolean(), { nil: undefined }),
    mode: fc.option(fc.constantFrom('tunnel' as const, 'transport' as const), { nil: undefined }),
    protocol: fc.option(fc.constantFrom('esp' as const, 'ah' as const), { nil: undefined }),
    esp: fc.uniqueArray(fc.constantFrom(...ESP_SUITE_NAMES), { minLength: 1, maxLength: 4 }),
    ah: fc.uniqueArray(fc.constantFrom(...AH_INTEG_NAMES), { minLength: 1, maxLength: 3 }),
    tunnel,
    lifetimes,
    offload: fc.option(fc.constantFrom('none' as const, 'prefer' as const, 'require' as const), { nil: undefined }),
    shunt: fc.option(fc.constantFrom('hold' as const, 'drop' as const, 'pass' as const), { nil: undefined }),
    natTraversal: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map((r) =>
    compact<IpsecSaCfgDoc>({
      extSeqNum: r.extSeqNum,
      mode: r.mode,
      protocolParameters: r.protocol,
      algorithms: r.protocol === 'ah' ? r.ah : r.esp,
      tunnel: r.mode === 'tunnel' ? r.tunnel : undefined,
      saLifetimeSoft: r.lifetimes.soft,
      saLifetimeHard: r.lifetimes.hard,
      offload: r.offload,
      negotiationShunt: r.shunt,
      natTraversal: r.natTraversal,
    }),
  );

const replayWindow = fc.oneof(fc.constant(0), fc.integer({ min: 32, max: 4096 }));

const policyConfig: fc.Arbitrary<IpsecPolicyConfigDoc> = fc
  .record({
    window: fc.option(replayWindow, { nil: undefined }),
    selectors: fc.array(family.chain(trafficSelector), { minLength: 1, maxLength: 3 }),
    action: fc.constantFrom('protect' as const, 'bypass' as const, 'discard' as const),
    cfg: saCfg,
  })
  .map((r) =>
    compact<IpsecPolicyConfigDoc>({
      antiReplayWindowSize: r.action === 'protect' && !(r.window === 0 && r.cfg.extSeqNum) ? r.window : undefined,
      trafficSelectors: r.selectors,
      action: r.action,
      ipsecSaCfg: r.action === 'protect' ? r.cfg : undefined,
    }),
  );

const spdEntryRaw = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  hasReqid: fc.boolean(),
  priority: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  config: policyConfig,
});

const keyChoice = fc.record({
  kind: fc.constantFrom('hex' as const, 'file' as const, 'env' as const),
  seed: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  envName: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/),
});
function keyDoc(k: { kind: 'hex' | 'file' | 'env'; seed: Uint8Array; envName: string }, length: number): KeyDoc {
  if (k.kind === 'hex') return { hex: toHex(k.seed.subarray(0, length)) };
  return { ref: k.kind === 'env' ? `env:${k.envName}` : `file:/etc/ipsec-es/keys/${k.envName.toLowerCase() || 'k'}.hex` };
}

const sadEntryRaw = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  link: fc.boolean(),
  esn: fc.option(fc.boolean(), { nil: undefined }),
  window: fc.option(replayWindow, { nil: undefined }),
  protocol: fc.option(fc.constantFrom('esp' as const, 'ah' as const), { nil: undefined }),
  mode: fc.option(fc.constantFrom('tunnel' as const, 'transport' as const), { nil: undefined }),
  tunnel,
  tunnelSelector: fc.option(family.chain(trafficSelector), { nil: undefined }),
  hosts: family.chain((f) => fc.tuple(address(f), address(f), fc.boolean())),
  espSuite: fc.constantFrom(...ESP_SUITE_NAMES),
  ahSuite: fc.constantFrom(...AH_INTEG_NAMES),
  encKey: keyChoice,
  integKey: keyChoice,
  lifetimes,
  natT: fc.option(fc.record({ srcPort: fc.integer({ min: 1, max: 0xffff }), dstPort: fc.integer({ min: 1, max: 0xffff }) }), { nil: undefined }),
  seq: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
});

function sadEntry(i: number, r: RawOf<typeof sadEntryRaw>, spd: readonly SpdEntryDoc[]): SadEntryDoc {
  const protocol = r.protocol ?? 'esp';
  let suite = protocol === 'esp' ? r.espSuite : r.ahSuite;
  let reqid: number | undefined;
  const target = r.link
    ? spd.find((p) => p.reqid !== undefined && p.direction === r.direction && p.config.ipsecSaCfg !== undefined && (p.config.ipsecSaCfg.protocolParameters ?? 'esp') === protocol)
    : undefined;
  if (target) {
    reqid = target.reqid;
    suite = target.config.ipsecSaCfg!.algorithms[0]!;
  }
  let encryptionKey: KeyDoc | undefined;
  let integrityKey: KeyDoc | undefined;
  if (protocol === 'esp') {
    const info = espSuiteByName(suite)!;
    if (info.encKeyLength > 0) encryptionKey = keyDoc(r.encKey, info.encKeyLength);
    if (info.integKeyLength > 0) integrityKey = keyDoc(r.integKey, info.integKeyLength);
  } else {
    integrityKey = keyDoc(r.integKey, ahKeyLength(ahIntegByName(suite)!));
  }
  const tunnelMode = r.mode === 'tunnel';
  const [l, rem, asPrefix] = r.hosts;
  const host = (a: Uint8Array): AddressDoc =>
    asPrefix ? { kind: 'prefix', address: formatIpAddress(a), length: a.length * 8 } : { kind: 'single', address: formatIpAddress(a) };
  const seqMax = r.esn ? Number.MAX_SAFE_INTEGER : 0xffffffff;
  return compact<SadEntryDoc>({
    name: `a${i}`,
    reqid,
    // Below 0x100000, where the connections' SPI ranges start.
    spi: 0x100 + i,
    direction: r.direction,
    extSeqNum: r.esn,
    antiReplayWindowSize: r.direction === 'inbound' && !(r.window === 0 && r.esn) ? r.window : undefined,
    trafficSelector: tunnelMode ? r.tunnelSelector : { local: host(l), remote: host(rem) },
    protocolParameters: r.protocol,
    mode: r.mode,
    suite,
    encryptionKey,
    integrityKey,
    saLifetimeSoft: r.lifetimes.soft,
    saLifetimeHard: r.lifetimes.hard,
    tunnel: tunnelMode ? r.tunnel : undefined,
    natT: r.natT && { srcPort: r.natT.srcPort, dstPort: r.natT.dstPort },
    seqNumberCounter: r.direction === 'outbound' && r.seq !== undefined ? r.seq % (seqMax + 1) : undefined,
  });
}

const identity: fc.Arbitrary<IdentityDoc> = fc.oneof(
  ipv4.map((a): IdentityDoc => ({ kind: 'ipv4-address', value: formatIpAddress(a) })),
  ipv6.map((a): IdentityDoc => ({ kind: 'ipv6-address', value: formatIpAddress(a) })),
  fc.constantFrom('gw.example.net', 'a-1.b.example', 'x').map((value): IdentityDoc => ({ kind: 'fqdn-string', value })),
  fc.constantFrom('ops@example.net', 'a.b@c').map((value): IdentityDoc => ({ kind: 'rfc822-address-string', value })),
  fc.constantFrom('key-1', 'some id with spaces & <symbols>').map((value): IdentityDoc => ({ kind: 'id-key', value })),
);

const PROPOSALS = [
  'aes256gcm16-prfsha384-ecp384',
  'aes128gcm16-prfsha256-curve25519',
  'chacha20poly1305-prfsha256-x25519-ecp256',
  'aes256-sha256-modp3072',
  'aes128ctr-sha1-prfsha1-modp2048',
];

const connRaw = fc.record({
  autostartup: fc.option(fc.constantFrom('add' as const, 'on-demand' as const, 'start' as const), { nil: undefined }),
  version: fc.option(fc.constant('ikev2' as const), { nil: undefined }),
  proposals: fc.uniqueArray(fc.constantFrom(...PROPOSALS), { minLength: 1, maxLength: 3 }),
  rekeyTime: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }),
  reauthTime: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }),
  overTime: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }),
  addresses: family.chain((f) => fc.tuple(address(f), address(f))),
  remoteAny: fc.boolean(),
  pads: fc.tuple(fc.nat(), fc.nat()),
  spiRange: fc.option(fc.integer({ min: 0, max: 0xfffff }), { nil: undefined }),
  spd: fc.array(fc.record({ hasReqid: fc.boolean(), priority: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), config: policyConfig, ownTunnel: fc.boolean() }), { maxLength: 2 }),
});

function connEntry(i: number, r: RawOf<typeof connRaw>, pads: readonly PadEntryDoc[]): ConnEntryDoc {
  const local = formatIpAddress(r.addresses[0]);
  const remote = r.remoteAny ? 'any' : formatIpAddress(r.addresses[1]);
  const spd = r.spd.map((e, j): ConnSpdEntryDoc => {
    const cfg = e.config.ipsecSaCfg;
    let config = e.config;
    if (cfg) {
      // A conn-entry's tunnel is the connection's own addresses, or left to default to them.
      const keep = cfg.mode === 'tunnel' && (e.ownTunnel || remote === 'any');
      const t = keep ? { local, remote: remote === 'any' ? local : remote } : undefined;
      config = { ...e.config, ipsecSaCfg: compact<IpsecSaCfgDoc>({ ...cfg, tunnel: t }) };
    }
    return compact<ConnSpdEntryDoc>({ name: `c${i}-${j}`, reqid: e.hasReqid ? 1000 + j : undefined, priority: e.priority, config });
  });
  // Disjoint by construction: connection i allocates within [(i+1)·2^20, (i+2)·2^20).
  const base = (i + 1) * 0x100000;
  return compact<ConnEntryDoc>({
    name: `c${i}`,
    autostartup: r.autostartup,
    version: r.version,
    ikeProposals: r.proposals,
    rekeyTime: r.rekeyTime,
    reauthTime: r.reauthTime,
    overTime: r.overTime,
    local: { address: local, padEntryName: pads[r.pads[0] % pads.length]!.name },
    remote: { address: remote, padEntryName: pads[r.pads[1] % pads.length]!.name },
    spiRange: r.spiRange === undefined ? undefined : { start: base, end: base + r.spiRange },
    spd,
  });
}

/** A valid policy document; `ikeless` only: no PAD and no connections. */
export function policyDocument(o: { ikeless?: boolean } = {}): fc.Arbitrary<PolicyDocument> {
  return fc
    .record({
      defaultAction: fc.option(fc.constantFrom('bypass' as const, 'discard' as const), { nil: undefined }),
      spd: fc.array(spdEntryRaw, { maxLength: 5 }),
      sad: fc.array(sadEntryRaw, { maxLength: 4 }),
      pad: fc.array(fc.record({ identity, envName: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/) }), { minLength: 1, maxLength: 3 }),
      connections: fc.array(connRaw, { maxLength: o.ikeless ? 0 : 3 }),
    })
    .map((r) => {
      const spd = r.spd.map((e, i) =>
        compact<SpdEntryDoc>({ name: `s${i}`, direction: e.direction, reqid: e.hasReqid ? i + 1 : undefined, priority: e.priority, config: e.config }),
      );
      const pad = o.ikeless ? [] : r.pad.map((p, i): PadEntryDoc => ({ name: `p${i}`, identity: p.identity, authMethod: 'pre-shared', keyRef: `env:${p.envName}` }));
      return compact<PolicyDocument>({
        defaultAction: r.defaultAction,
        spd,
        sad: r.sad.map((e, i) => sadEntry(i, e, spd)),
        pad,
        connections: r.connections.map((c, i) => connEntry(i, c, pad)),
      });
    });
}
