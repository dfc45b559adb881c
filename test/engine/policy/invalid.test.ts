import { describe, expect, it } from 'vitest';
import { formatPolicyErrors, parsePolicyXml } from '../../../engine/policy/index.js';
import { INVALID_CASES } from './invalidCases.js';
import { NS, TS, connEntry, ikeWith, sadEntry } from './fixtures.js';

describe('invalid policy files', () => {
  it(`has at least 30 cases (${INVALID_CASES.length})`, () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(INVALID_CASES.map((c) => c.name)).size).toBe(INVALID_CASES.length);
  });

  it.each(INVALID_CASES)('$name → $line:$column $rule', ({ xml, line, column, rule }) => {
    const result = parsePolicyXml(xml, 'case.xml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors[0]).toEqual({ file: 'case.xml', line, column, rule });
  });

  it('reports every problem of a file at once, in file order (the "Bad input" file)', () => {
    // An overlapping SPI range, an unknown suite, a prefix length 33 and a reversed port range.
    const xml = [
      `<ipsec-policy xmlns="${NS}">`,
      '  <ipsec-ikeless><spd>',
      '    <spd-entry><name>web</name><direction>outbound</direction><ipsec-policy-config>',
      '      <traffic-selector>',
      '        <local-prefix>10.1.0.0/33</local-prefix><remote-prefix>10.2.0.0/16</remote-prefix>',
      '        <inner-protocol>tcp</inner-protocol>',
      '        <remote-ports><start>443</start><end>80</end></remote-ports>',
      '      </traffic-selector>',
      '      <processing-info><action>protect</action><ipsec-sa-cfg>',
      '        <esp-algorithms><suite>aes129gcm</suite></esp-algorithms>',
      '      </ipsec-sa-cfg></processing-info>',
      '    </ipsec-policy-config></spd-entry>',
      '  </spd></ipsec-ikeless>',
      '  <ipsec-ike><pad>',
      '    <pad-entry><name>gw-a</name><fqdn-string>a.example</fqdn-string><peer-authentication><auth-method>pre-shared</auth-method><pre-shared><key-ref>env:PSK</key-ref></pre-shared></peer-authentication></pad-entry>',
      '    <pad-entry><name>gw-b</name><fqdn-string>b.example</fqdn-string><peer-authentication><auth-method>pre-shared</auth-method><pre-shared><key-ref>env:PSK</key-ref></pre-shared></peer-authentication></pad-entry>',
      '  </pad>',
      connEntry('a', { extra: '<spi-range><start>0x180</start><end>0x200</end></spi-range>' }),
      connEntry('b', { extra: '<spi-range><start>0x100</start><end>0x1ff</end></spi-range>' }),
      '  </ipsec-ike>',
      '</ipsec-policy>',
    ].join('\n');
    const result = parsePolicyXml(xml, 'gw.xml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatPolicyErrors(result.errors)).toBe(
      [
        'gw.xml:5:23: prefix length 33 exceeds 32 for an IPv4 address',
        'gw.xml:7:30: port range 443-80 is reversed',
        "gw.xml:10:32: unknown suite 'aes129gcm'; did you mean 'aes128gcm16'?",
        "gw.xml:19:312: SPI range 0x100-0x1ff overlaps range 0x180-0x200 of conn-entry 'a' (line 18)",
      ].join('\n'),
    );
  });

  it('names the static SA an SPI collides with', () => {
    const xml = ikeWith(connEntry('b', { extra: '<spi-range><start>0x1000</start><end>0x1fff</end></spi-range>' })).replace(
      '<ipsec-ike>',
      `<ipsec-ikeless><sad>\n${sadEntry('static', { reqid: '', direction: 'inbound', spi: '0x1800' })}\n</sad></ipsec-ikeless><ipsec-ike>`,
    );
    const result = parsePolicyXml(xml, 'f.xml');
    expect(result.ok ? [] : result.errors.map((e) => `${e.line}:${e.column}: ${e.rule}`)).toEqual([
      "3:53: SPI 0x1800 of inbound sad-entry 'static' lies in SPI range 0x1000-0x1fff, which conn-entry 'b' (line 8) allocates from",
    ]);
  });

  it('counts columns after a byte order mark as an editor shows them', () => {
    const result = parsePolicyXml(`\ufeff<ipsec-policy xmlns="${NS}"><default-action>drop</default-action></ipsec-policy>`, 'bom.xml');
    expect(result.ok ? undefined : result.errors[0]).toEqual({
      file: 'bom.xml',
      line: 1,
      column: 61,
      rule: '<default-action> \'drop\' is not one of bypass, discard',
    });
  });

  it('finds values across lines and CRLF line ends', () => {
    const xml = `<ipsec-policy xmlns="${NS}">\r\n<ipsec-ikeless><spd><spd-entry><name>x</name><direction>outbound</direction>\r\n<ipsec-policy-config><traffic-selector>\r\n<local-prefix>\r\n   10.0.0.0/40\r\n</local-prefix>${TS.slice(TS.indexOf('<remote'))}</traffic-selector><processing-info><action>bypass</action></processing-info></ipsec-policy-config></spd-entry></spd></ipsec-ikeless></ipsec-policy>`;
    const result = parsePolicyXml(xml, 'crlf.xml');
    expect(result.ok ? undefined : result.errors[0]).toMatchObject({ line: 5, column: 4, rule: 'prefix length 40 exceeds 32 for an IPv4 address' });
  });
});
