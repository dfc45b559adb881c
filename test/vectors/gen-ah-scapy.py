#!/usr/bin/python3
"""
Generates test/vectors/ah-scapy.json: AH (RFC 4302) packets built by an independent
implementation, scapy's scapy.layers.ipsec.SecurityAssociation(AH, ...).

Run with Debian's scapy (apt-get install python3-scapy python3-cryptography):
    /usr/bin/python3 test/vectors/gen-ah-scapy.py > test/vectors/ah-scapy.json

The TypeScript tests only read the JSON (CI has no scapy). Every case records the inputs our
ahEncapsulate needs (inner packet, SA parameters, the 64-bit sequence number) and scapy's output.
Outer tunnel headers are given to scapy with the values ipsec-es chooses (TTL 64, IPv4 ID = low 16
bits of the sequence number, DSCP/ECN and DF copied from the inner header), so the bytes can match.

Where scapy departs from RFC 4302 the case carries `rfc_packet` (what the RFC asks for, computed
here with scapy's own framing and zeroing plus the one RFC rule scapy lacks) next to scapy's
`packet`, and a `disagreement` note; the tests expect ipsec-es to produce `rfc_packet`.
"""

import hashlib
import hmac
import json
import struct
import sys

import scapy
from scapy.all import IP, UDP, TCP, ICMP, IPOption, raw, conf
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, RouterAlert, HBHOptUnknown
from scapy.layers.ipsec import AH, SecurityAssociation, zero_mutable_fields
import cryptography

conf.verb = 0

# name in scapy -> (IKEv2 transform id, key length, hash)
INTEGS = {
    'HMAC-MD5-96': (1, 16, hashlib.md5, 12),
    'HMAC-SHA1-96': (2, 20, hashlib.sha1, 12),
    'SHA2-256-128': (12, 32, hashlib.sha256, 16),
    'SHA2-384-192': (13, 48, hashlib.sha384, 24),
    'SHA2-512-256': (14, 64, hashlib.sha512, 32),
}

V4_A, V4_B = '192.0.2.1', '192.0.2.2'
V4_GW_A, V4_GW_B = '198.51.100.1', '198.51.100.2'
V6_A, V6_B = '2001:db8::1', '2001:db8::2'
V6_GW_A, V6_GW_B = '2001:db8:ffff::1', '2001:db8:ffff::2'


def key_for(name, salt):
    n = INTEGS[name][1]
    return bytes((salt * 29 + i * 13 + 7) & 0xFF for i in range(n))


def addr_hex(a):
    import socket
    fam = socket.AF_INET6 if ':' in a else socket.AF_INET
    return socket.inet_pton(fam, a).hex()


def payload(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


# --- inner packets (bytes), each must survive a scapy parse/rebuild unchanged -------------------

def v4_plain():
    return raw(IP(src=V4_A, dst=V4_B, id=0x1234, flags='DF', tos=0x10, ttl=64) / UDP(sport=4000, dport=53) / payload(23))


def v4_options():
    # Router Alert (148, immutable, RFC 4302 App. A1), Record Route (7, mutable: zeroed whole)
    # with two empty slots, then End of Options List; 16 octets.
    opts = bytes.fromhex('94040000') + bytes.fromhex('070b04') + bytes(8) + bytes.fromhex('00')
    return raw(IP(src=V4_A, dst=V4_B, id=0x4321, ttl=17, tos=0xB8, options=IPOption(opts)) / TCP(sport=1234, dport=80, flags='S') / payload(40))


def v4_lsrr():
    # Loose Source Route through 203.0.113.9 to the final destination V4_B; the header's
    # destination is the first hop (RFC 791 §3.1). Then NOP, End of list padding.
    opts = bytes.fromhex('830b04') + bytes.fromhex('cb007109') + bytes.fromhex(addr_hex(V4_B)) + bytes.fromhex('00')
    return raw(IP(src=V4_A, dst='198.51.100.7', id=0x0101, ttl=64, options=IPOption(opts)) / UDP(sport=7, dport=7) / payload(12))


def v4_icmp():
    return raw(IP(src=V4_A, dst=V4_B, id=0x0007, ttl=255) / ICMP(type=8, id=1, seq=2) / payload(56))


def v6_plain():
    return raw(IPv6(src=V6_A, dst=V6_B, tc=0x28, fl=0x12345, hlim=64) / UDP(sport=4000, dport=53) / payload(31))


def v6_hbh():
    # Hop-by-Hop: Router Alert (type 5, immutable) and an unknown option 0x3e whose
    # "may change en route" bit (0x20) is set: its data is zeroed for the ICV (RFC 4302 §3.3.3.1.2.2).
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(), HBHOptUnknown(otype=0x3E, optdata=b'\x01\x02\x03\x04')])
    return raw(IPv6(src=V6_A, dst=V6_B, tc=0x00, fl=0xABCDE, hlim=9) / hbh / UDP(sport=5, dport=6) / payload(17))


def v6_routing():
    # Routing header type 0 with two addresses, none visited yet (Segments Left 2): the ICV is
    # computed over the header as it will arrive (RFC 4302 App. A2).
    rt = IPv6ExtHdrRouting(type=0, segleft=2, addresses=['2001:db8:1::1', V6_B])
    return raw(IPv6(src=V6_A, dst='2001:db8:2::2', hlim=64) / rt / UDP(sport=9, dport=9) / payload(8))


INNERS = {
    'v4': v4_plain, 'v4opts': v4_options, 'v4lsrr': v4_lsrr, 'v4icmp': v4_icmp,
    'v6': v6_plain, 'v6hbh': v6_hbh, 'v6rt': v6_routing,
}


def parse(b):
    return IP(b) if b[0] >> 4 == 4 else IPv6(b)


def tunnel_header(outer_version, inner_bytes, seq_lo):
    inner = parse(inner_bytes)
    tos = inner.tos if inner.version == 4 else inner.tc
    df = inner.version == 4 and 'DF' in inner.flags
    if outer_version == 4:
        return IP(src=V4_GW_A, dst=V4_GW_B, ttl=64, id=seq_lo & 0xFFFF, tos=tos, flags='DF' if df else 0)
    return IPv6(src=V6_GW_A, dst=V6_GW_B, hlim=64, tc=tos, fl=0)


def lsrr_rfc_icv(pkt, name, key, esn_en, esn_hi):
    """RFC 4302 §3.3.3.1.1.1: with source routing the destination address is 'mutable but
    predictable': the ICV covers the final destination (the last address of the route), which
    scapy does not substitute. Same zeroing and framing as scapy otherwise."""
    clone = zero_mutable_fields(pkt.copy(), sending=True)
    hdr = raw(pkt)[: (raw(pkt)[0] & 0x0F) * 4]
    i = 20
    final = None
    while i < len(hdr):
        t = hdr[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        ln = hdr[i + 1]
        if t in (0x83, 0x89) and hdr[i + 2] <= ln:
            final = hdr[i + ln - 4 : i + ln]
        i += ln
    assert final is not None
    clone.dst = '.'.join(str(x) for x in final)
    data = raw(clone) + (struct.pack('!L', esn_hi) if esn_en else b'')
    icv = hmac.new(key, data, INTEGS[name][2]).digest()[: INTEGS[name][3]]
    out = pkt.copy()
    out[AH].icv = icv
    return raw(out)


def case(cid, name, inner_key, mode, seq_hi, seq_lo, esn, outer_version=None, salt=1, spi=None):
    key = key_for(name, salt)
    spi = spi if spi is not None else 0x1000 + salt
    inner_bytes = INNERS[inner_key]()
    assert raw(parse(inner_bytes)) == inner_bytes, f'{cid}: scapy does not round-trip the inner packet'
    th = tunnel_header(outer_version, inner_bytes, seq_lo) if mode == 'tunnel' else None
    sa = SecurityAssociation(AH, spi=spi, auth_algo=name, auth_key=key, tunnel_header=th, esn_en=esn, esn=seq_hi)
    pkt = sa.encrypt(parse(inner_bytes), seq_num=seq_lo)
    out = raw(pkt)
    v = {
        'id': cid,
        'integ': name,
        'integ_id': INTEGS[name][0],
        'key': key.hex(),
        'spi': spi,
        'seq_hi': seq_hi,
        'seq_lo': seq_lo,
        'esn': esn,
        'mode': mode,
        'ttl': 64,
        'inner': inner_bytes.hex(),
        'packet': out.hex(),
    }
    if mode == 'tunnel':
        v['tunnel'] = {'src': addr_hex(th.src), 'dst': addr_hex(th.dst)}
    if inner_key == 'v4lsrr':
        v['rfc_packet'] = lsrr_rfc_icv(pkt, name, key, esn, seq_hi)
        v['rfc_packet'] = v['rfc_packet'].hex()
        v['disagreement'] = ('scapy computes the ICV over the destination address as sent (the first hop); '
                             'RFC 4302 §3.3.3.1.1.1 classes the destination as mutable but predictable under '
                             'loose/strict source routing, so the ICV covers the final destination (as Linux '
                             'ah4.c does). rfc_packet has that ICV; everything else is as scapy built it.')
    elif inner_key == 'v6rt':
        v['note'] = ('scapy reorders the routing header only when sending; a receiver sees the header '
                     'after the route was followed (Segments Left 0), so scapy cannot verify the packet '
                     'as sent. ipsec-es normalizes both ways, so it accepts either.')
    else:
        # scapy's own receiver accepts its packet and returns the inner packet.
        back = SecurityAssociation(AH, spi=spi, auth_algo=name, auth_key=key, tunnel_header=th, esn_en=esn, esn=seq_hi)
        dec = back.decrypt(parse(out))
        assert raw(dec) == inner_bytes, f'{cid}: scapy decrypt does not give the inner packet back'
    return v


def main():
    vectors = []
    n = 0
    for name in INTEGS:
        n += 1
        tag = name.lower()
        vectors.append(case(f'{tag}/v4-transport', name, 'v4', 'transport', 0, 1, False, salt=n))
        vectors.append(case(f'{tag}/v4-transport-options', name, 'v4opts', 'transport', 0, 0x2A, False, salt=n))
        vectors.append(case(f'{tag}/v4-transport-lsrr', name, 'v4lsrr', 'transport', 0, 3, False, salt=n))
        vectors.append(case(f'{tag}/v4-tunnel', name, 'v4', 'tunnel', 0, 0x10203, False, outer_version=4, salt=n))
        vectors.append(case(f'{tag}/v4-in-v6-tunnel', name, 'v4icmp', 'tunnel', 0, 9, False, outer_version=6, salt=n))
        vectors.append(case(f'{tag}/v6-transport', name, 'v6', 'transport', 0, 5, False, salt=n))
        vectors.append(case(f'{tag}/v6-transport-hbh', name, 'v6hbh', 'transport', 0, 0xFFFF, False, salt=n))
        vectors.append(case(f'{tag}/v6-transport-routing', name, 'v6rt', 'transport', 0, 11, False, salt=n))
        vectors.append(case(f'{tag}/v6-tunnel', name, 'v6hbh', 'tunnel', 0, 77, False, outer_version=6, salt=n))
        vectors.append(case(f'{tag}/v6-in-v4-tunnel', name, 'v6', 'tunnel', 0, 0x12345678, False, outer_version=4, salt=n))
        # ESN (RFC 4302 §2.5.1): only the low 32 bits travel; the high 32 bits enter the ICV.
        vectors.append(case(f'{tag}/v4-transport-esn', name, 'v4opts', 'transport', 1, 2, True, salt=n))
        vectors.append(case(f'{tag}/v4-tunnel-esn', name, 'v4', 'tunnel', 0xDEADBEEF, 0xFFFFFFF0, True, outer_version=4, salt=n))
        vectors.append(case(f'{tag}/v6-transport-esn', name, 'v6hbh', 'transport', 0x00000002, 0x00000001, True, salt=n))
        vectors.append(case(f'{tag}/v6-tunnel-esn', name, 'v6', 'tunnel', 7, 0x80000000, True, outer_version=6, salt=n))
    doc = {
        'source': {
            'generator': 'test/vectors/gen-ah-scapy.py',
            'implementation': f'scapy {scapy.__version__} (Debian python3-scapy), scapy.layers.ipsec.SecurityAssociation(AH, ...); '
                              f'HMAC by pyca/cryptography {cryptography.__version__}',
            'python': sys.version.split()[0],
            'notes': [
                'All hex lower case. seq_hi/seq_lo: the packet\'s 64-bit sequence number; scapy is given seq_num=seq_lo, esn_en, esn=seq_hi.',
                'Tunnel cases: scapy was handed the outer header ipsec-es would build (TTL/Hop Limit 64, IPv4 ID = seq_lo & 0xffff, DSCP/ECN and DF copied from the inner header, flow label 0).',
                'ICV padding (RFC 4302 §3.3.3.2.1): scapy pads AH to 4 octets for IPv4 and 8 for IPv6, with zeros.',
                'Except where a case has rfc_packet, scapy\'s own decrypt() accepted each packet and returned `inner` (checked by the generator).',
                'Differences from RFC 4302 seen in scapy, not all exercised here: (1) no final-destination substitution under IPv4 LSRR/SSRR (cases */v4-transport-lsrr carry rfc_packet); '
                '(2) IPv4 options are classed by option number alone (copy and class bits ignored), so e.g. an unassigned type 0x02 counts as immutable where App. A1 lists only 130 (Security); '
                '(3) the IPv6 routing header is reordered for any routing type, and only when sending; '
                '(4) in IPv6 transport mode scapy puts AH after a Destination Options header that has no Routing header after it, ipsec-es puts AH before it (RFC 4302 §3.1.1 allows both; no case here has one).',
            ],
        },
        'vectors': vectors,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
