/**
 * IPv6 in the e2e topology (topology.ts builds it IPv4-only, IPv6 switched off): LAN A fd01::/64
 * and LAN B fd02::/64 beside the IPv4 LANs, a WAN fd00::/64 beside 192.0.2.0/24, and policy files
 * whose one tunnel carries both inner families (one spd-entry, two selector sets, RFC 4301
 * §4.4.1.2) over an IPv4 or an IPv6 outer header, as ESP in UDP 4500 or as raw ESP.
 */
import { execFileSync } from 'node:child_process';
import type { SiteKeys } from './siteConfig.js';
import { ADDR, type Topology } from './topology.js';

export const ADDR6 = {
  hostA: 'fd01::10', gwALan: 'fd01::1', gwAWan: 'fd00::1',
  gwBWan: 'fd00::2', gwBLan: 'fd02::1', hostB: 'fd02::10',
  lanA: 'fd01::/64', lanB: 'fd02::/64',
} as const;

/**
 * Switches IPv6 on in the four namespaces (devices made later, such as the TUN device, too) and
 * gives every interface its IPv6 address (no duplicate address detection: usable at once), the
 * hosts a default route through their gateway, and the gateways IPv6 forwarding.
 *
 * @example
 * const t = await createTopology(); enableIpv6(t);
 */
export function enableIpv6(t: Topology): void {
  const sysctl = (ns: string, ...settings: string[]) => execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings]);
  const ip = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const ns of Object.values(t.ns)) sysctl(ns, 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0');
  ip(t.ns.hostA, 'address', 'add', `${ADDR6.hostA}/64`, 'dev', 'lan0', 'nodad');
  ip(t.ns.gwA, 'address', 'add', `${ADDR6.gwALan}/64`, 'dev', 'lan0', 'nodad');
  ip(t.ns.gwA, 'address', 'add', `${ADDR6.gwAWan}/64`, 'dev', 'wan0', 'nodad');
  ip(t.ns.gwB, 'address', 'add', `${ADDR6.gwBWan}/64`, 'dev', 'wan0', 'nodad');
  ip(t.ns.gwB, 'address', 'add', `${ADDR6.gwBLan}/64`, 'dev', 'lan0', 'nodad');
  ip(t.ns.hostB, 'address', 'add', `${ADDR6.hostB}/64`, 'dev', 'lan0', 'nodad');
  ip(t.ns.hostA, '-6', 'route', 'add', 'default', 'via', ADDR6.gwALan);
  ip(t.ns.hostB, '-6', 'route', 'add', 'default', 'via', ADDR6.gwBLan);
  for (const ns of [t.ns.gwA, t.ns.gwB]) sysctl(ns, 'net.ipv6.conf.all.forwarding=1');
}

const sa = (name: string, spi: number, direction: 'inbound' | 'outbound', key: string, local: string, remote: string, espInUdp: boolean) => `
      <sad-entry>
        <name>${name}</name>
        <reqid>1</reqid>
        <ipsec-sa-config>
          <spi>${spi}</spi>
          <direction>${direction}</direction>
          <ext-seq-num>true</ext-seq-num>
          <mode>tunnel</mode>
          <esp-sa><suite>aes128gcm16</suite><encryption><key>${key}</key></encryption></esp-sa>
          <tunnel><local>${local}</local><remote>${remote}</remote></tunnel>${espInUdp ? '\n          <encapsulation-type><espencap>espinudp</espencap><sport>4500</sport><dport>4500</dport></encapsulation-type>' : ''}${direction === 'inbound' ? '\n          <anti-replay-window-size>1024</anti-replay-window-size>' : ''}
        </ipsec-sa-config>
      </sad-entry>`;

const selectors = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.map(([l, r]) => `\n          <traffic-selector><local-prefix>${l}</local-prefix><remote-prefix>${r}</remote-prefix></traffic-selector>`).join('');

const policy = (name: string, direction: 'inbound' | 'outbound', pairs: ReadonlyArray<readonly [string, string]>, local: string, remote: string) => `
      <spd-entry>
        <name>${name}</name>
        <direction>${direction}</direction>
        <reqid>1</reqid>
        <ipsec-policy-config>${selectors(pairs)}
          <processing-info>
            <action>protect</action>
            <ipsec-sa-cfg>
              <ext-seq-num>true</ext-seq-num>
              <mode>tunnel</mode>
              <esp-algorithms><suite>aes128gcm16</suite></esp-algorithms>
              <tunnel><local>${local}</local><remote>${remote}</remote></tunnel>
            </ipsec-sa-cfg>
          </processing-info>
        </ipsec-policy-config>
      </spd-entry>`;

const bypass = (name: string, direction: 'inbound' | 'outbound', local: string, remote: string) => `
      <spd-entry>
        <name>${name}</name>
        <direction>${direction}</direction>
        <ipsec-policy-config>${selectors([[local, remote]])}
          <processing-info><action>bypass</action></processing-info>
        </ipsec-policy-config>
      </spd-entry>`;

/**
 * A side's policy file: LAN ↔ LAN in both families through one tunnel between the WAN addresses
 * of `wan` (4: 192.0.2.1/.2, 6: fd00::1/::2), ESP in UDP 4500 (`esp: 'udp'`) or raw ESP.
 *
 * @example
 * writeFileSync('a.xml', dualStackSiteConfig('a', keys, { wan: 6, esp: 'udp' }));
 */
export function dualStackSiteConfig(side: 'a' | 'b', keys: SiteKeys, o: { wan: 4 | 6; esp: 'udp' | 'raw' }): string {
  const wan = o.wan === 4 ? [ADDR.gwAWan, ADDR.gwBWan] : [ADDR6.gwAWan, ADDR6.gwBWan];
  const [me, peer] = side === 'a' ? wan : [wan[1]!, wan[0]!];
  const lans = side === 'a' ? ([[ADDR.lanA, ADDR.lanB], [ADDR6.lanA, ADDR6.lanB]] as const) : ([[ADDR.lanB, ADDR.lanA], [ADDR6.lanB, ADDR6.lanA]] as const);
  const [out, inn] = side === 'a' ? [keys.ab, keys.ba] : [keys.ba, keys.ab];
  return `<?xml version="1.0" encoding="UTF-8"?>
<ipsec-policy xmlns="urn:ipsec-es:policy:1">
  <ipsec-ikeless>
    <spd>${bypass('wan-out', 'outbound', me!, peer!)}${bypass('wan-in', 'inbound', me!, peer!)}${policy('lan-out', 'outbound', lans, me!, peer!)}${policy('lan-in', 'inbound', lans, me!, peer!)}
    </spd>
    <sad>${sa('sa-out', out.spi, 'outbound', out.key, me!, peer!, o.esp === 'udp')}${sa('sa-in', inn.spi, 'inbound', inn.key, me!, peer!, o.esp === 'udp')}
    </sad>
  </ipsec-ikeless>
</ipsec-policy>
`;
}

/**
 * The tcpdump filter for "what crosses the WAN": everything but ARP and IPv6's own link upkeep
 * (multicast: MLD, router and neighbour solicitations; unicast neighbour discovery, ICMPv6 types
 * 133..137). Plaintext, ICMPv6 echo included, is still captured.
 *
 * @example
 * t.spawn(t.ns.gwA, ['tcpdump', '-i', 'wan0', '-nn', '-l', ...WAN_FILTER]);
 */
export const WAN_FILTER = ['not', 'arp', 'and', 'not', '(ip6', 'and', 'dst', 'net', 'ff00::/8)', 'and', 'not', '(icmp6', 'and', 'ip6[40]', '>=', '133', 'and', 'ip6[40]', '<=', '137)'];
