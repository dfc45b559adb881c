/**
 * Policy files for the two e2e gateways: LAN A (10.1.0.0/24) ↔ LAN B (10.2.0.0/24) in tunnel
 * mode between 192.0.2.1 and 192.0.2.2, AES-128-GCM, ESP in UDP 4500 (RFC 3948), with static
 * (manually keyed) SAs until IKEv2 exists. A's outbound SA is B's inbound SA and vice versa.
 */
import { ADDR } from './topology.js';

export interface SiteKeys {
  /** A → B: SPI and 20-byte key+salt (hex). */
  ab: { spi: number; key: string };
  ba: { spi: number; key: string };
}

const sa = (name: string, reqid: number, spi: number, direction: 'inbound' | 'outbound', key: string, local: string, remote: string, extra = '') => `
      <sad-entry>
        <name>${name}</name>
        <reqid>${reqid}</reqid>
        <ipsec-sa-config>
          <spi>${spi}</spi>
          <direction>${direction}</direction>
          <ext-seq-num>true</ext-seq-num>
          <mode>tunnel</mode>
          <esp-sa><suite>aes128gcm16</suite><encryption><key>${key}</key></encryption></esp-sa>
          <tunnel><local>${local}</local><remote>${remote}</remote></tunnel>
          <encapsulation-type><espencap>espinudp</espencap><sport>4500</sport><dport>4500</dport></encapsulation-type>${extra}
        </ipsec-sa-config>
      </sad-entry>`;

const policy = (name: string, direction: 'inbound' | 'outbound', localNet: string, remoteNet: string, local: string, remote: string, offload = false) => `
      <spd-entry>
        <name>${name}</name>
        <direction>${direction}</direction>
        <reqid>1</reqid>
        <ipsec-policy-config>
          <traffic-selector><local-prefix>${localNet}</local-prefix><remote-prefix>${remoteNet}</remote-prefix></traffic-selector>
          <processing-info>
            <action>protect</action>
            <ipsec-sa-cfg>
              <ext-seq-num>true</ext-seq-num>
              <mode>tunnel</mode>
              <esp-algorithms><suite>aes128gcm16</suite></esp-algorithms>
              <tunnel><local>${local}</local><remote>${remote}</remote></tunnel>${offload ? '\n              <offload>prefer</offload>' : ''}
            </ipsec-sa-cfg>
          </processing-info>
        </ipsec-policy-config>
      </spd-entry>`;

/** IKE and ESP-in-UDP between the gateways themselves pass in the clear (BYPASS). */
const bypassWan = (local: string, remote: string) => `
      <spd-entry>
        <name>wan-out</name>
        <direction>outbound</direction>
        <ipsec-policy-config>
          <traffic-selector><local-prefix>${local}</local-prefix><remote-prefix>${remote}</remote-prefix></traffic-selector>
          <processing-info><action>bypass</action></processing-info>
        </ipsec-policy-config>
      </spd-entry>
      <spd-entry>
        <name>wan-in</name>
        <direction>inbound</direction>
        <ipsec-policy-config>
          <traffic-selector><local-prefix>${local}</local-prefix><remote-prefix>${remote}</remote-prefix></traffic-selector>
          <processing-info><action>bypass</action></processing-info>
        </ipsec-policy-config>
      </spd-entry>`;

/**
 * A side's policy file. With several generations of keys, each is a pair of static SAs under the
 * same reqid (a manual rekey adds the next generation before the old one goes); `lastInboundOnly`
 * writes the last generation's inbound SA alone (the first step of a make-before-break rekey).
 *
 * @example
 * writeFileSync('a.xml', siteConfig('a', keys));
 */
export function siteConfig(side: 'a' | 'b', keys: SiteKeys | SiteKeys[], options: { lastInboundOnly?: boolean; offload?: boolean; inboundFirst?: boolean } = {}): string {
  const generations = Array.isArray(keys) ? keys : [keys];
  const [me, peer, myLan, peerLan] = side === 'a' ? [ADDR.gwAWan, ADDR.gwBWan, ADDR.lanA, ADDR.lanB] : [ADDR.gwBWan, ADDR.gwAWan, ADDR.lanB, ADDR.lanA];
  const sas = generations
    .map((g, i) => {
      const [out, inn] = side === 'a' ? [g.ab, g.ba] : [g.ba, g.ab];
      const suffix = i === 0 ? '' : `-${i + 1}`;
      const inbound = sa(`sa-in${suffix}`, 1, inn.spi, 'inbound', inn.key, me, peer, '\n          <anti-replay-window-size>1024</anti-replay-window-size>');
      const last = i === generations.length - 1;
      const outbound = last && options.lastInboundOnly ? '' : sa(`sa-out${suffix}`, 1, out.spi, 'outbound', out.key, me, peer);
      return options.inboundFirst ? inbound + outbound : outbound + inbound;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<ipsec-policy xmlns="urn:ipsec-es:policy:1">
  <ipsec-ikeless>
    <spd>${bypassWan(me, peer)}${policy('lan-out', 'outbound', myLan, peerLan, me, peer, options.offload)}${policy('lan-in', 'inbound', myLan, peerLan, me, peer, options.offload)}
    </spd>
    <sad>${sas}
    </sad>
  </ipsec-ikeless>
</ipsec-policy>
`;
}
