import { ESP_TUNNEL, NS, TS, connEntry, ikeWith, sadEntry, sadWith, spdWith } from './fixtures.js';

/** One invalid policy file and the first error it must report. */
export interface InvalidCase {
  name: string;
  xml: string;
  line: number;
  column: number;
  rule: string;
}

const cfg = (extra: string): string => ESP_TUNNEL + extra;
const suiteCfg = (suites: string): string =>
  `<mode>tunnel</mode><esp-algorithms>${suites}</esp-algorithms><tunnel><local>192.0.2.1</local><remote>198.51.100.2</remote></tunnel>`;

export const INVALID_CASES: InvalidCase[] = [
  // --- malformed XML -----------------------------------------------------------------------
  { name: 'unclosed tag', xml: `<ipsec-policy xmlns="${NS}">\n<ipsec-ikeless>\n</ipsec-policy>`, line: 3, column: 15, rule: 'malformed XML: unexpected close tag </ipsec-policy>; <ipsec-ikeless> (line 2, column 1) is not closed' },
  { name: 'undefined entity', xml: `<ipsec-policy xmlns="${NS}">\n<default-action>&drop;</default-action>\n</ipsec-policy>`, line: 2, column: 22, rule: 'malformed XML: undefined entity' },
  { name: 'unterminated document', xml: `<ipsec-policy xmlns="${NS}">\n  <default-action>discard</default-action>\n`, line: 3, column: 1, rule: 'malformed XML: the file ends while <ipsec-policy> (line 1, column 1) is still open' },
  { name: 'two root elements', xml: `<ipsec-policy xmlns="${NS}"/>\n<ipsec-policy xmlns="${NS}"/>`, line: 2, column: 14, rule: 'malformed XML: documents may contain only one root' },
  { name: 'a DOCTYPE', xml: `<?xml version="1.0"?>\n<!DOCTYPE ipsec-policy [<!ENTITY x "y">]>\n<ipsec-policy xmlns="${NS}"/>`, line: 2, column: 41, rule: 'malformed XML: a DOCTYPE is not allowed in a policy file' },
  { name: 'an empty file', xml: '', line: 1, column: 1, rule: 'malformed XML: document must contain a root element' },
  // --- document structure ------------------------------------------------------------------
  { name: 'wrong root element', xml: `<?xml version="1.0"?>\n<policy xmlns="${NS}"/>`, line: 2, column: 1, rule: 'the root element must be <ipsec-policy>, not <policy>' },
  { name: 'no namespace', xml: '<ipsec-policy>\n</ipsec-policy>', line: 1, column: 1, rule: '<ipsec-policy> must be in namespace urn:ipsec-es:policy:1: write <ipsec-policy xmlns="urn:ipsec-es:policy:1">' },
  { name: 'unknown element', xml: spdWith(`${TS}<local-port>80</local-port>`), line: 5, column: 101, rule: 'unexpected element <local-port> in <traffic-selector>; allowed here: local-prefix, local-range, remote-prefix, remote-range, inner-protocol, local-ports, remote-ports, icmp, mh-type' },
  { name: 'element twice', xml: spdWith(TS, cfg('<mode>transport</mode>')), line: 7, column: 163, rule: '<mode> appears twice in <ipsec-sa-cfg> (first at line 7)' },
  { name: 'missing direction', xml: spdWith().replace('<direction>outbound</direction>', ''), line: 3, column: 1, rule: '<spd-entry> needs a <direction>' },
  { name: 'an attribute', xml: spdWith(TS.replace('<local-prefix>', '<local-prefix kind="v4">')), line: 5, column: 19, rule: 'attribute \'kind\' is not allowed on <local-prefix>; this format uses elements only' },
  { name: 'text in a container', xml: spdWith(`${TS} oops`), line: 5, column: 19, rule: 'unexpected text \'oops\' in <traffic-selector>; it holds elements only' },
  { name: 'empty value', xml: spdWith('<local-prefix></local-prefix><remote-prefix>10.2.0.0/16</remote-prefix>'), line: 5, column: 19, rule: '<local-prefix> is empty; it needs a value' },
  // --- selectors ---------------------------------------------------------------------------
  { name: 'IPv4 prefix length 33', xml: spdWith('<local-prefix>10.1.0.0/33</local-prefix><remote-prefix>10.2.0.0/16</remote-prefix>'), line: 5, column: 33, rule: 'prefix length 33 exceeds 32 for an IPv4 address' },
  { name: 'IPv6 prefix length 129', xml: spdWith('<local-prefix>2001:db8::/129</local-prefix><remote-prefix>2001:db8:1::/48</remote-prefix>'), line: 5, column: 33, rule: 'prefix length 129 exceeds 128 for an IPv6 address' },
  { name: 'host bits set', xml: spdWith('<local-prefix>10.1.2.3/16</local-prefix><remote-prefix>10.2.0.0/16</remote-prefix>'), line: 5, column: 33, rule: 'prefix 10.1.2.3/16 has host bits set; the network is 10.1.0.0/16' },
  { name: 'IPv4 octet 256', xml: spdWith('<local-prefix>10.1.0.0/16</local-prefix><remote-prefix>10.2.0.256</remote-prefix>'), line: 5, column: 74, rule: '\'10.2.0.256\' is not a valid IPv4 address (four decimal octets 0-255, no leading zeros)' },
  { name: 'IPv6 with :::', xml: spdWith('<local-prefix>2001:db8:::1</local-prefix><remote-prefix>2001:db8::2</remote-prefix>'), line: 5, column: 33, rule: '\'2001:db8:::1\' is not a valid IPv6 address' },
  { name: 'address families mixed', xml: spdWith('<local-prefix>10.1.0.0/16</local-prefix><remote-prefix>2001:db8::/32</remote-prefix>'), line: 5, column: 74, rule: 'local addresses are IPv4 but remote addresses are IPv6; a traffic selector uses one address family' },
  { name: 'address range reversed', xml: spdWith('<local-range><start>10.0.0.9</start><end>10.0.0.1</end></local-range><remote-prefix>any</remote-prefix>'), line: 5, column: 39, rule: 'address range 10.0.0.9-10.0.0.1 is reversed' },
  { name: 'port range reversed', xml: spdWith(`${TS}<inner-protocol>tcp</inner-protocol><remote-ports><start>443</start><end>80</end></remote-ports>`), line: 5, column: 158, rule: 'port range 443-80 is reversed' },
  { name: 'port out of range', xml: spdWith(`${TS}<local-ports><start>1024</start><end>70000</end></local-ports>`), line: 5, column: 138, rule: 'port end 70000 is out of range: it must be 0 to 65535' },
  { name: 'ports for ICMP', xml: spdWith(`${TS}<inner-protocol>icmp</inner-protocol><local-ports><start>1</start><end>2</end></local-ports>`), line: 5, column: 138, rule: '<local-ports> need a protocol with ports (tcp, udp, sctp, dccp, udplite); inner-protocol is icmp' },
  { name: 'ICMP selector for TCP', xml: spdWith(`${TS}<inner-protocol>tcp</inner-protocol><icmp><start><type>8</type></start><end><type>8</type></end></icmp>`), line: 5, column: 137, rule: 'an <icmp> selector needs inner-protocol icmp, ipv6-icmp or any, not tcp' },
  { name: 'ICMP range reversed', xml: spdWith(`${TS}<inner-protocol>icmp</inner-protocol><icmp><start><type>8</type></start><end><type>3</type></end></icmp>`), line: 5, column: 144, rule: 'ICMP range 8/0-3/255 (type/code) is reversed' },
  { name: 'unknown protocol', xml: spdWith(`${TS}<inner-protocol>tcpp</inner-protocol>`), line: 5, column: 117, rule: 'inner-protocol \'tcpp\' is not any, opaque, a number 0 to 255 or one of icmp, igmp, ipip, tcp, udp, ipv6, gre, esp, ah, ipv6-icmp, dccp, sctp, mh, udplite' },
  // --- PROTECT parameters ------------------------------------------------------------------
  { name: 'unknown suite', xml: spdWith(TS, suiteCfg('<suite>aes129gcm</suite>')), line: 7, column: 57, rule: 'unknown suite \'aes129gcm\'; did you mean \'aes128gcm16\'?' },
  { name: 'suite twice', xml: spdWith(TS, suiteCfg('<suite>aes128gcm16</suite><suite>aes128gcm16</suite>')), line: 7, column: 83, rule: 'suite \'aes128gcm16\' is listed twice' },
  { name: 'ESP suite for AH', xml: spdWith(TS, '<protocol-parameters>ah</protocol-parameters><ah-algorithms><integrity>aes128gcm16</integrity></ah-algorithms>'), line: 7, column: 86, rule: '\'aes128gcm16\' is an ESP suite, not an AH integrity algorithm' },
  { name: 'esp-algorithms with AH', xml: spdWith(TS, '<protocol-parameters>ah</protocol-parameters><esp-algorithms><suite>aes128gcm16</suite></esp-algorithms>'), line: 7, column: 60, rule: '<esp-algorithms> does not apply: protocol-parameters is ah; use <ah-algorithms>' },
  { name: 'tunnel mode without endpoints', xml: spdWith(TS, '<mode>tunnel</mode><esp-algorithms><suite>aes128gcm16</suite></esp-algorithms>'), line: 7, column: 15, rule: 'tunnel mode needs a <tunnel> with <local> and <remote> endpoints' },
  { name: 'tunnel in transport mode', xml: spdWith(TS, '<esp-algorithms><suite>aes128gcm16</suite></esp-algorithms><tunnel><local>192.0.2.1</local><remote>198.51.100.2</remote></tunnel>'), line: 7, column: 74, rule: '<tunnel> is only for tunnel mode; mode is transport (the default): add <mode>tunnel</mode>' },
  { name: 'tunnel families mixed', xml: spdWith(TS, '<mode>tunnel</mode><esp-algorithms><suite>aes128gcm16</suite></esp-algorithms><tunnel><local>192.0.2.1</local><remote>2001:db8::1</remote></tunnel>'), line: 7, column: 93, rule: 'tunnel local 192.0.2.1 is IPv4 but remote 2001:db8::1 is IPv6' },
  { name: 'replay window 16', xml: spdWith(TS).replace('<traffic-selector>', '<anti-replay-window-size>16</anti-replay-window-size><traffic-selector>'), line: 5, column: 26, rule: 'anti-replay window 16 must be 0 (off) or 32 to 4096' },
  { name: 'ESN without a replay window', xml: spdWith(TS, `<ext-seq-num>true</ext-seq-num>${ESP_TUNNEL}`).replace('<traffic-selector>', '<anti-replay-window-size>0</anti-replay-window-size><traffic-selector>'), line: 5, column: 26, rule: 'ext-seq-num needs an anti-replay window (RFC 4303 App. A2 infers the high bits from it); 0 turns it off' },
  { name: 'MH type selector for UDP', xml: spdWith(`${TS}<inner-protocol>udp</inner-protocol><mh-type><start>1</start><end>2</end></mh-type>`), line: 5, column: 137, rule: 'an <mh-type> selector needs inner-protocol mh (135) or any, not udp' },
  { name: 'soft lifetime past hard', xml: spdWith(TS, cfg('<sa-lifetime-soft><time>4000</time></sa-lifetime-soft><sa-lifetime-hard><time>3600</time></sa-lifetime-hard>')), line: 7, column: 163, rule: 'soft lifetime time 4000 s is past the hard lifetime time 3600 s' },
  { name: 'lifetime time 0', xml: spdWith(TS, cfg('<sa-lifetime-hard><time>0</time></sa-lifetime-hard>')), line: 7, column: 187, rule: 'lifetime time must be greater than 0; leave <time> out for no time limit' },
  { name: 'lifetime with four decimals', xml: spdWith(TS, cfg('<sa-lifetime-hard><time>1.0001</time></sa-lifetime-hard>')), line: 7, column: 187, rule: 'lifetime time \'1.0001\' is not a number of seconds (up to three decimals)' },
  { name: 'not a boolean', xml: spdWith(TS, `<ext-seq-num>yes</ext-seq-num>${ESP_TUNNEL}`), line: 7, column: 28, rule: '<ext-seq-num> \'yes\' is not true or false' },
  { name: 'bypass with ipsec-sa-cfg', xml: spdWith(TS, ESP_TUNNEL, 'bypass'), line: 7, column: 1, rule: '<ipsec-sa-cfg> is only for action protect; this entry\'s action is bypass' },
  { name: 'protect without ipsec-sa-cfg', xml: spdWith(TS, null, 'protect'), line: 6, column: 1, rule: 'action protect needs an <ipsec-sa-cfg> saying how' },
  { name: 'unknown action', xml: spdWith(TS, null, 'allow'), line: 6, column: 26, rule: '<action> \'allow\' is not one of protect, bypass, discard' },
  { name: 'bad entry name', xml: spdWith().replace('<name>p1</name>', '<name>p 1</name>'), line: 3, column: 18, rule: 'name \'p 1\' must be 1 to 64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit' },
  { name: 'duplicate spd-entry name', xml: sadWith().replace('<name>in</name>', '<name>out</name>'), line: 5, column: 1, rule: 'spd-entry name \'out\' is already used by the spd-entry at line 4' },
  // --- static SAs --------------------------------------------------------------------------
  { name: 'reserved SPI', xml: sadWith(sadEntry('a', { spi: '255' })), line: 12, column: 64, rule: 'SPI 0xff is reserved: SPIs 0 to 255 are (RFC 4303 §2.1); use 256 (0x100) or above' },
  { name: 'SPI over 32 bits', xml: sadWith(sadEntry('a', { spi: '0x100000000' })), line: 12, column: 64, rule: 'SPI 0x100000000 does not fit in 32 bits' },
  { name: 'duplicate SPI', xml: sadWith(sadEntry('a'), sadEntry('b')), line: 13, column: 64, rule: 'SPI 0x1000 is already used by outbound sad-entry \'a\' (line 12) for the same destination and protocol' },
  { name: 'duplicate sad-entry name', xml: sadWith(sadEntry('a'), sadEntry('a', { spi: '0x1001' })), line: 13, column: 1, rule: 'sad-entry name \'a\' is already used by the sad-entry at line 12' },
  { name: 'key too short for the suite', xml: sadWith(sadEntry('a', { esp: '<suite>aes128gcm16</suite><encryption><key>000102030405060708090a0b0c0d0e0f</key></encryption>' })), line: 12, column: 177, rule: 'encryption key for aes128gcm16 must be 20 bytes (a 128-bit key and a 4-byte salt), 40 hex digits; got 16 bytes' },
  { name: 'key not hex', xml: sadWith(sadEntry('a', { esp: '<suite>aes128gcm16</suite><encryption><key>000102030405060708090a0b0c0d0e0f1011121g</key></encryption>' })), line: 12, column: 177, rule: 'encryption key for aes128gcm16 is not hex: \'g\' is not a hex digit' },
  { name: 'integrity key for a combined mode', xml: sadWith(sadEntry('a', { esp: '<suite>aes128gcm16</suite><encryption><key-ref>env:K</key-ref></encryption><integrity><key-ref>env:I</key-ref></integrity>' })), line: 12, column: 209, rule: 'aes128gcm16 is a combined mode: it takes no integrity key' },
  { name: 'missing integrity key', xml: sadWith(sadEntry('a', { esp: '<suite>aes128-sha256</suite><encryption><key-ref>env:K</key-ref></encryption>' })), line: 12, column: 126, rule: '<esp-sa> needs an <integrity> key for aes128-sha256' },
  { name: 'bad key-ref', xml: sadWith(sadEntry('a', { esp: '<suite>aes128gcm16</suite><encryption><key-ref>vault:k1</key-ref></encryption>' })), line: 12, column: 181, rule: 'key-ref \'vault:k1\' must be file:<path> or env:<NAME>' },
  { name: 'reqid matching no policy', xml: sadWith(sadEntry('a', { reqid: '<reqid>7</reqid>' })), line: 12, column: 33, rule: 'reqid 7 of sad-entry \'a\' matches no spd-entry' },
  { name: 'suite not in the policy', xml: sadWith(sadEntry('a', { esp: '<suite>chacha20poly1305</suite><encryption><key-ref>env:K</key-ref></encryption>' })), line: 12, column: 33, rule: 'suite chacha20poly1305 of sad-entry \'a\' is not among the algorithms of spd-entry \'out\' (line 4): aes128gcm16' },
  { name: 'transport SA without host addresses', xml: sadWith(sadEntry('a', { reqid: '', mode: `<traffic-selector>${TS}</traffic-selector>` }).replace(/<tunnel>.*<\/tunnel>/, '')), line: 12, column: 91, rule: 'a transport-mode sad-entry needs single local and remote addresses in its <traffic-selector>: they are the SA\'s endpoints' },
  { name: 'sequence counter on an inbound SA', xml: sadWith(sadEntry('a', { direction: 'inbound' }).replace('</sad-entry>', '<ipsec-sa-state><seq-number-counter>5</seq-number-counter></ipsec-sa-state></sad-entry>')), line: 12, column: 332, rule: 'seq-number-counter is for outbound SAs only; this sad-entry is inbound' },
  // --- IKE -------------------------------------------------------------------------------------
  { name: 'literal pre-shared secret', xml: ikeWith().replace('<key-ref>env:PSK</key-ref>', '<secret>hunter2</secret>'), line: 3, column: 135, rule: 'a literal pre-shared secret is not allowed in a policy file; keep it in a file or the environment and write <key-ref>file:/path</key-ref> or <key-ref>env:NAME</key-ref>' },
  { name: 'unsupported auth-method', xml: ikeWith().replace('<auth-method>pre-shared</auth-method>', '<auth-method>eap</auth-method>'), line: 3, column: 99, rule: 'auth-method eap is not supported yet; use pre-shared' },
  { name: 'pad-entry that does not exist', xml: ikeWith(connEntry('a-b', { remotePad: 'gw-c' })), line: 6, column: 266, rule: 'remote-pad-entry-name \'gw-c\' names no pad-entry' },
  { name: 'IKE version 1', xml: ikeWith(connEntry('a-b', { version: '<version>ikev1</version>' })), line: 6, column: 38, rule: 'IKE version \'ikev1\' is not supported; only ikev2' },
  { name: 'combined mode with integrity', xml: ikeWith(connEntry('a-b', { proposal: 'aes128gcm16-sha256-ecp256' })), line: 6, column: 43, rule: 'IKE proposal \'aes128gcm16-sha256-ecp256\': aes128gcm16 is a combined mode and takes no integrity algorithm' },
  { name: 'proposal without a group', xml: ikeWith(connEntry('a-b', { proposal: 'aes256-sha256' })), line: 6, column: 43, rule: 'IKE proposal \'aes256-sha256\' names no key exchange group (e.g. ecp256, curve25519, modp2048)' },
  { name: 'SPI range reversed', xml: ikeWith(connEntry('a', { extra: '<spi-range><start>0x200</start><end>0x100</end></spi-range>' })), line: 6, column: 319, rule: 'SPI range 0x200-0x100 is reversed' },
  {
    name: 'overlapping SPI ranges',
    xml: ikeWith(
      connEntry('b', { extra: '<spi-range><start>0x180</start><end>0x200</end></spi-range>' }),
      connEntry('c', { extra: '<spi-range><start>0x100</start><end>0x1ff</end></spi-range>' }),
    ),
    line: 7, column: 312, rule: 'SPI range 0x100-0x1ff overlaps range 0x180-0x200 of conn-entry \'b\' (line 6)',
  },
];
