import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { formatIpAddress, parseIpAddress, parsePrefix } from '../../../engine/policy/ipText.js';
import { ESP_SUITE_NAMES, closestName, espSuiteByName, espSuiteName } from '../../../engine/policy/suiteNames.js';
import { ikeProposalProblem } from '../../../engine/policy/parseIke.js';

const canon = (text: string): string => {
  const r = parseIpAddress(text);
  if (!r.ok) throw new Error(r.rule);
  return formatIpAddress(r.value);
};

describe('address text', () => {
  it.each([
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // RFC 5952 §4.2.3: the first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group is not shortened
    ['0:0:0:0:0:0:0:0', '::'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // §5: IPv4-mapped keeps the dotted quad
    ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'],
    ['::c000:201', '::c000:201'],
    ['fe80::', 'fe80::'],
    ['192.0.2.1', '192.0.2.1'],
  ])('%s is written %s', (input, expected) => {
    expect(canon(input)).toBe(expected);
  });

  it.each(['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', ':1', 'g::1', ''])('refuses %j', (text) => {
    expect(parseIpAddress(text).ok).toBe(false);
  });

  it('says what is wrong with a prefix', () => {
    expect(parsePrefix('10.0.0.0/33')).toEqual({ ok: false, rule: 'prefix length 33 exceeds 32 for an IPv4 address' });
    expect(parsePrefix('2001:db8::/129')).toEqual({ ok: false, rule: 'prefix length 129 exceeds 128 for an IPv6 address' });
    expect(parsePrefix('10.0.0.0/x')).toEqual({ ok: false, rule: "prefix length 'x' is not a number from 0 to 32" });
    expect(parsePrefix('2001:db8::1/64')).toEqual({ ok: false, rule: 'prefix 2001:db8::1/64 has host bits set; the network is 2001:db8::/64' });
  });

  test.prop([fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))])(
    'format then parse is the identity, and the format is a fixed point',
    (bytes) => {
      const text = formatIpAddress(bytes);
      const back = parseIpAddress(text);
      expect(back.ok && back.value).toEqual(bytes);
      expect(canon(text)).toBe(text);
    },
  );
});

describe('suite names', () => {
  it('names every ESP suite once, and names map back to themselves', () => {
    expect(ESP_SUITE_NAMES.length).toBe(42);
    for (const name of ESP_SUITE_NAMES) expect(espSuiteName(espSuiteByName(name)!.spec)).toBe(name);
  });
  it('knows key lengths: key ‖ salt for counter modes, the HMAC key size for integrity', () => {
    expect(espSuiteByName('aes256gcm16')).toMatchObject({ encKeyLength: 36, integKeyLength: 0 });
    expect(espSuiteByName('chacha20poly1305')).toMatchObject({ encKeyLength: 36, integKeyLength: 0 });
    expect(espSuiteByName('aes128-sha256')).toMatchObject({ encKeyLength: 16, integKeyLength: 32 });
    expect(espSuiteByName('null-sha1')).toMatchObject({ encKeyLength: 0, integKeyLength: 20 });
  });
  it('suggests the closest name for a typo, nothing for nonsense', () => {
    expect(closestName('aes129gcm', ESP_SUITE_NAMES)).toBe('aes128gcm16');
    expect(closestName('aes256-sha265', ESP_SUITE_NAMES)).toBe('aes256-sha256');
    expect(closestName('rot13', ESP_SUITE_NAMES)).toBeUndefined();
  });
  it('checks IKE proposals', () => {
    expect(ikeProposalProblem('aes256gcm16-prfsha384-ecp384')).toBeUndefined();
    expect(ikeProposalProblem('aes128-sha256-prfsha256-modp2048-ecp256')).toBeUndefined();
    expect(ikeProposalProblem('aes256gcm16-ecp384')).toBe("IKE proposal 'aes256gcm16-ecp384' names no PRF (e.g. prfsha256); a combined-mode proposal needs one");
    expect(ikeProposalProblem('3des-sha1-modp1024')).toBe("IKE proposal '3des-sha1-modp1024' must start with an encryption algorithm (e.g. aes256gcm16, aes256, chacha20poly1305), not '3des'");
    expect(ikeProposalProblem('aes256-sha256-modp1024')).toBe("IKE proposal 'aes256-sha256-modp1024': unknown algorithm 'modp1024'");
  });
});
