/**
 * Small policy documents for the tests: each builder puts the part under test on a line of
 * its own, so an error's line number says which part it is in.
 */
export const NS = 'urn:ipsec-es:policy:1';

/** ESP tunnel PROTECT parameters, valid. */
export const ESP_TUNNEL =
  '<mode>tunnel</mode><esp-algorithms><suite>aes128gcm16</suite></esp-algorithms>' +
  '<tunnel><local>192.0.2.1</local><remote>198.51.100.2</remote></tunnel>';

export const TS = '<local-prefix>10.1.0.0/16</local-prefix><remote-prefix>10.2.0.0/16</remote-prefix>';

/**
 * One outbound spd-entry named p1. Line 5: the traffic selector's content; line 6: the action;
 * line 7: the ipsec-sa-cfg content (no ipsec-sa-cfg when `cfg` is null).
 */
export function spdWith(ts: string = TS, cfg: string | null = ESP_TUNNEL, action = 'protect'): string {
  return [
    `<ipsec-policy xmlns="${NS}">`,
    '<ipsec-ikeless><spd>',
    '<spd-entry><name>p1</name><direction>outbound</direction>',
    '<ipsec-policy-config>',
    `<traffic-selector>${ts}</traffic-selector>`,
    `<processing-info><action>${action}</action>`,
    cfg === null ? '' : `<ipsec-sa-cfg>${cfg}</ipsec-sa-cfg>`,
    '</processing-info></ipsec-policy-config></spd-entry>',
    '</spd></ipsec-ikeless></ipsec-policy>',
  ].join('\n');
}

/** An ESP tunnel policy pair with reqid 1, then the given sad-entries one per line from line 12. */
export function sadWith(...entries: string[]): string {
  const policy = (name: string, dir: string): string =>
    `<spd-entry><name>${name}</name><direction>${dir}</direction><reqid>1</reqid><ipsec-policy-config>` +
    `<traffic-selector>${TS}</traffic-selector><processing-info><action>protect</action>` +
    `<ipsec-sa-cfg>${ESP_TUNNEL}</ipsec-sa-cfg></processing-info></ipsec-policy-config></spd-entry>`;
  return [
    `<ipsec-policy xmlns="${NS}">`,
    '<ipsec-ikeless>',
    '<spd>',
    policy('out', 'outbound'),
    policy('in', 'inbound'),
    '</spd>',
    '<sad>',
    '',
    '',
    '',
    '',
    ...entries,
    '</sad>',
    '</ipsec-ikeless></ipsec-policy>',
  ].join('\n');
}

/** A valid ESP tunnel sad-entry; `config` replaces parts of its ipsec-sa-config. */
export function sadEntry(name: string, o: { spi?: string; direction?: string; reqid?: string; esp?: string; extra?: string; mode?: string } = {}): string {
  const esp = o.esp ?? '<suite>aes128gcm16</suite><encryption><key>000102030405060708090a0b0c0d0e0f10111213</key></encryption>';
  return (
    `<sad-entry><name>${name}</name>${o.reqid ?? '<reqid>1</reqid>'}<ipsec-sa-config>` +
    `<spi>${o.spi ?? '0x1000'}</spi><direction>${o.direction ?? 'outbound'}</direction>` +
    `${o.mode ?? '<mode>tunnel</mode>'}<esp-sa>${esp}</esp-sa>` +
    `<tunnel><local>192.0.2.1</local><remote>198.51.100.2</remote></tunnel>${o.extra ?? ''}</ipsec-sa-config></sad-entry>`
  );
}

/** PAD entries gw-a and gw-b (lines 3, 4), then the given conn-entries one per line from line 6. */
export function ikeWith(...connections: string[]): string {
  const pad = (name: string, fqdn: string): string =>
    `<pad-entry><name>${name}</name><fqdn-string>${fqdn}</fqdn-string><peer-authentication>` +
    '<auth-method>pre-shared</auth-method><pre-shared><key-ref>env:PSK</key-ref></pre-shared></peer-authentication></pad-entry>';
  return [
    `<ipsec-policy xmlns="${NS}">`,
    '<ipsec-ike><pad>',
    pad('gw-a', 'a.example'),
    pad('gw-b', 'b.example'),
    '</pad>',
    ...connections,
    '</ipsec-ike></ipsec-policy>',
  ].join('\n');
}

/** A valid conn-entry; `extra` goes before its (absent) spd. */
export function connEntry(name: string, o: { proposal?: string; extra?: string; remotePad?: string; version?: string } = {}): string {
  return (
    `<conn-entry><name>${name}</name>${o.version ?? ''}<ike-proposal>${o.proposal ?? 'aes256gcm16-prfsha384-ecp384'}</ike-proposal>` +
    '<local><local-address>192.0.2.1</local-address><local-pad-entry-name>gw-a</local-pad-entry-name></local>' +
    `<remote><remote-address>198.51.100.2</remote-address><remote-pad-entry-name>${o.remotePad ?? 'gw-b'}</remote-pad-entry-name></remote>` +
    `${o.extra ?? ''}</conn-entry>`
  );
}
