/**
 * Traffic selectors (RFC 7296 §2.9, §3.13.1) from and to the SPD's selectors, and the
 * responder's narrowing: "the responder is allowed to narrow the choices by selecting a subset
 * of the traffic" (§2.9), never to widen them.
 */
import { TS_TYPE } from '../../engine/ike/constants.js';
import type { AddressRangeSelector, TrafficSelector } from '../../engine/ike/types.js';
import { isAddressRange } from '../../engine/ike/tsPayload.js';
import { compareAddresses, formatIpAddress } from '../../engine/policy/ipText.js';
import type { AddressSelector, PortSelector, Selector } from '../../engine/spd/types.js';

const ones = (n: number) => new Uint8Array(n).fill(0xff);

function addressRange(a: AddressSelector, family: 4 | 6): { start: Uint8Array; end: Uint8Array } | undefined {
  const size = family === 4 ? 4 : 16;
  switch (a.kind) {
    case 'any':
      return { start: new Uint8Array(size), end: ones(size) };
    case 'single':
      return a.address.length === size ? { start: a.address, end: a.address } : undefined;
    case 'prefix': {
      if (a.address.length !== size) return undefined;
      const end = Uint8Array.from(a.address);
      for (let bit = a.length; bit < size * 8; bit++) end[bit >> 3]! |= 0x80 >> (bit & 7);
      return { start: a.address, end };
    }
    case 'range':
      return a.from.length === size ? { start: a.from, end: a.to } : undefined;
    case 'opaque':
      return undefined;
  }
}

const portRange = (p: PortSelector) => (p.kind === 'range' ? { startPort: p.from, endPort: p.to } : { startPort: 0, endPort: 65535 });

/** The family a selector set is in (4 when both addresses are ANY). */
export function selectorFamily(s: Selector): 4 | 6 {
  for (const a of [s.localAddress, s.remoteAddress]) {
    if (a.kind === 'single' || a.kind === 'prefix') return a.address.length === 16 ? 6 : 4;
    if (a.kind === 'range') return a.from.length === 16 ? 6 : 4;
  }
  return 4;
}

/**
 * One SPD selector set as the TS pair a CHILD SA proposes: `local` is our side, `remote` the
 * peer's. ICMP type/code ride in the port fields (§3.13.1: "the ICMP type and code ... in the
 * Start Port and End Port fields"). Returns undefined for OPAQUE addresses.
 *
 * @example
 * const { local, remote } = selectorToTs(policy.selectors[0])!;
 */
export function selectorToTs(s: Selector): { local: AddressRangeSelector; remote: AddressRangeSelector } | undefined {
  const family = selectorFamily(s);
  const l = addressRange(s.localAddress, family);
  const r = addressRange(s.remoteAddress, family);
  if (!l || !r) return undefined;
  const ipProtocol = s.protocol.kind === 'number' ? s.protocol.value : 0;
  const tsType = family === 4 ? TS_TYPE.IPV4_ADDR_RANGE : TS_TYPE.IPV6_ADDR_RANGE;
  const icmp = s.icmp?.kind === 'range' ? { startPort: s.icmp.from.type * 256 + s.icmp.from.code, endPort: s.icmp.to.type * 256 + s.icmp.to.code } : undefined;
  return {
    local: { tsType, ipProtocol, ...(icmp ?? portRange(s.localPort)), startAddress: l.start, endAddress: l.end },
    remote: { tsType, ipProtocol, ...(icmp ?? portRange(s.remotePort)), startAddress: r.start, endAddress: r.end },
  };
}

const max = (a: Uint8Array, b: Uint8Array) => (compareAddresses(a, b) >= 0 ? a : b);
const min = (a: Uint8Array, b: Uint8Array) => (compareAddresses(a, b) <= 0 ? a : b);

/**
 * The intersection of two address-range selectors, or undefined when they share no traffic.
 *
 * @example
 * intersectTs(offered, ours) // the part of `offered` our policy allows
 */
export function intersectTs(a: AddressRangeSelector, b: AddressRangeSelector): AddressRangeSelector | undefined {
  if (a.tsType !== b.tsType) return undefined;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return undefined;
  const startAddress = max(a.startAddress, b.startAddress);
  const endAddress = min(a.endAddress, b.endAddress);
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (compareAddresses(startAddress, endAddress) > 0 || startPort > endPort) return undefined;
  return { tsType: a.tsType, ipProtocol: a.ipProtocol || b.ipProtocol, startPort, endPort, startAddress, endAddress };
}

/**
 * Narrows what the initiator proposed to what our policy allows (§2.9): each offered selector
 * intersected with ours; the first selectors of TSi/TSr may be the packet that triggered the
 * request (§2.9.2) and are kept only if they fit. Returns undefined (TS_UNACCEPTABLE) when a
 * side is left empty.
 *
 * @example
 * const narrowed = narrowTs(tsi, tsr, { local: policyTs.remote, remote: policyTs.local });
 */
export function narrowTs(offered: readonly TrafficSelector[], ours: AddressRangeSelector): AddressRangeSelector[] | undefined {
  const out: AddressRangeSelector[] = [];
  for (const ts of offered) {
    if (!isAddressRange(ts)) continue;
    const i = intersectTs(ts, ours);
    if (i && !out.some((o) => sameTs(o, i))) out.push(i);
  }
  // §2.9.2: with a triggering-packet selector first, the policy-wide one follows; keep the widest.
  return out.length === 0 ? undefined : out.length > 1 && out.some((o) => sameTs(o, ours)) ? [ours] : out;
}

/** Selector equality. */
export function sameTs(a: AddressRangeSelector, b: AddressRangeSelector): boolean {
  return a.tsType === b.tsType && a.ipProtocol === b.ipProtocol && a.startPort === b.startPort && a.endPort === b.endPort && compareAddresses(a.startAddress, b.startAddress) === 0 && compareAddresses(a.endAddress, b.endAddress) === 0;
}

/** `10.1.0.0-10.1.0.255[proto 0, 0-65535]`, for facts and logs. */
export function formatTs(ts: TrafficSelector): string {
  if (!isAddressRange(ts)) return `ts-type-${ts.tsType}`;
  const ports = ts.startPort === 0 && ts.endPort === 65535 ? '' : `:${ts.startPort}-${ts.endPort}`;
  return `${formatIpAddress(ts.startAddress)}-${formatIpAddress(ts.endAddress)}${ts.ipProtocol ? `/${ts.ipProtocol}` : ''}${ports}`;
}
