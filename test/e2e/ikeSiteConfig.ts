/**
 * Policy files for IKE-keyed gateways in the e2e tests: one `<conn-entry>` with its two PAD
 * entries (FQDN identities, one PSK file) and one tunnel-mode CHILD SA between two subnets.
 */
export interface IkeSiteOptions {
  name: string;
  local: { address: string; id: string; net: string };
  remote: { address: string; id: string; net: string };
  /** `file:/...` holding the PSK as hex. */
  pskRef: string;
  ikeProposals: string[];
  espSuites: string[];
  /** Seconds. */
  childSoft?: number;
  childHard?: number;
  ikeRekey?: number;
  ikeOver?: number;
}

/** Hex of a text PSK (the key-ref files hold hex). @example pskHex('secret') */
export const pskHex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

/** @example await writeFile(path, ikeSiteXml({ ... })) */
export function ikeSiteXml(o: IkeSiteOptions): string {
  const pad = (name: string, id: string) => `
      <pad-entry>
        <name>${name}</name>
        <fqdn-string>${id}</fqdn-string>
        <peer-authentication>
          <auth-method>pre-shared</auth-method>
          <pre-shared><key-ref>${o.pskRef}</key-ref></pre-shared>
        </peer-authentication>
      </pad-entry>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<ipsec-policy xmlns="urn:ipsec-es:policy:1">
  <default-action>discard</default-action>
  <ipsec-ike>
    <pad>${pad('me', o.local.id)}${pad('peer', o.remote.id)}
    </pad>
    <conn-entry>
      <name>${o.name}</name>
      <autostartup>on-demand</autostartup>
      <version>ikev2</version>
${o.ikeProposals.map((p) => `      <ike-proposal>${p}</ike-proposal>`).join('\n')}
${o.ikeRekey ? `      <ike-sa-lifetime-soft><rekey-time>${o.ikeRekey}</rekey-time></ike-sa-lifetime-soft>` : ''}
${o.ikeOver ? `      <ike-sa-lifetime-hard><over-time>${o.ikeOver}</over-time></ike-sa-lifetime-hard>` : ''}
      <local>
        <local-address>${o.local.address}</local-address>
        <local-pad-entry-name>me</local-pad-entry-name>
      </local>
      <remote>
        <remote-address>${o.remote.address}</remote-address>
        <remote-pad-entry-name>peer</remote-pad-entry-name>
      </remote>
      <spd>
        <spd-entry>
          <name>net</name>
          <reqid>1</reqid>
          <priority>100</priority>
          <ipsec-policy-config>
            <anti-replay-window-size>128</anti-replay-window-size>
            <traffic-selector>
              <local-prefix>${o.local.net}</local-prefix>
              <remote-prefix>${o.remote.net}</remote-prefix>
              <inner-protocol>any</inner-protocol>
            </traffic-selector>
            <processing-info>
              <action>protect</action>
              <ipsec-sa-cfg>
                <ext-seq-num>false</ext-seq-num>
                <mode>tunnel</mode>
                <protocol-parameters>esp</protocol-parameters>
                <esp-algorithms>
${o.espSuites.map((s) => `                  <suite>${s}</suite>`).join('\n')}
                </esp-algorithms>
                <tunnel>
                  <local>${o.local.address}</local>
                  <remote>${o.remote.address}</remote>
                </tunnel>
${o.childSoft ? `                <sa-lifetime-soft><time>${o.childSoft}</time></sa-lifetime-soft>` : ''}
${o.childHard ? `                <sa-lifetime-hard><time>${o.childHard}</time></sa-lifetime-hard>` : ''}
                <negotiation-shunt>hold</negotiation-shunt>
                <nat-traversal>true</nat-traversal>
              </ipsec-sa-cfg>
            </processing-info>
          </ipsec-policy-config>
        </spd-entry>
      </spd>
    </conn-entry>
  </ipsec-ike>
</ipsec-policy>
`;
}
