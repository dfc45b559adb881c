#!/usr/bin/env python3
"""Independent IKEv2 computations for the TypeScript tests (ike-python.json).

Everything here is written from RFC 7296 / RFC 5282 / RFC 3526 text with Python's standard
library (hmac, hashlib) and pyca/cryptography (AES-CBC, AES-GCM, X25519, P-256), sharing no
code with engine/ike. It also re-checks the transcribed RFC vectors in this folder:
RFC 4231 (HMAC-SHA2), RFC 5903 s8.1 (ECDH P-256), RFC 7748 s6.1 and RFC 8031 App. A (X25519),
RFC 3526 s3 (the group 14 prime against its defining formula).

Run: python3 gen-ike-python.py   (writes ike-python.json, prints what it checked)
"""
import hashlib, hmac, json, os, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.asymmetric import ec, x25519

HERE = os.path.dirname(os.path.abspath(__file__))
H = bytes.fromhex
HASH = {5: hashlib.sha256, 6: hashlib.sha384, 7: hashlib.sha512, 2: hashlib.sha1}

def load(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)

# ---- re-check the transcribed vectors -------------------------------------------------
checked = 0
for v in load('hmac-sha2-rfc4231.json')['vectors']:
    for alg in ('sha256', 'sha384', 'sha512'):
        mac = hmac.new(H(v['key']), H(v['data']), getattr(hashlib, alg)).hexdigest()
        assert mac[: len(v[alg])] == v[alg], (v['case'], alg)
        checked += 1
p256 = load('ecdh-p256-rfc5903.json')['vector']
i = ec.derive_private_key(int(p256['i'], 16), ec.SECP256R1())
r = ec.derive_private_key(int(p256['r'], 16), ec.SECP256R1())
gi = i.public_key().public_numbers(); gr = r.public_key().public_numbers()
assert '%064x%064x' % (gi.x, gi.y) == p256['gix'] + p256['giy']
assert '%064x%064x' % (gr.x, gr.y) == p256['grx'] + p256['gry']
assert i.exchange(ec.ECDH(), r.public_key()).hex() == p256['girx'] == r.exchange(ec.ECDH(), i.public_key()).hex()
checked += 1
for v in load('x25519-rfc7748-rfc8031.json')['vectors']:
    a = x25519.X25519PrivateKey.from_private_bytes(H(v['private_i']))
    b = x25519.X25519PrivateKey.from_private_bytes(H(v['private_r']))
    raw = lambda k: k.public_key().public_bytes_raw().hex()
    assert raw(a) == v['public_i'] and raw(b) == v['public_r'], v['id']
    assert a.exchange(b.public_key()).hex() == v['shared'] == b.exchange(a.public_key()).hex(), v['id']
    checked += 1
modp = load('modp2048-rfc3526.json')
P = int(modp['prime'], 16)

def pi_floor_times_2_pow(bits):
    """floor(pi * 2^bits) with Machin's formula in integers (guard bits for rounding)."""
    guard = 64; one = 1 << (bits + guard)
    def arctan_inv(x):
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n); term //= x * x; n += 2; sign = -sign
        return total
    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> guard

assert P == 2**2048 - 2**1984 - 1 + 2**64 * (pi_floor_times_2_pow(1918) + 124476)
assert modp['generator'] == 2
checked += 1

# ---- independent IKEv2 computations -----------------------------------------------------
def prf(alg, key, data):
    return hmac.new(key, data, HASH[alg]).digest()

def prf_plus(alg, key, seed, length):  # RFC 7296 s2.13
    out, t, n = b'', b'', 1
    while len(out) < length:
        t = prf(alg, key, t + seed + bytes([n])); out += t; n += 1
    return out[:length]

def split(stream, sizes):
    out, at = [], 0
    for s in sizes:
        out.append(stream[at:at + s]); at += s
    return out

ni = bytes(range(0x10, 0x30))            # 32 octets
nr = bytes(range(0x80, 0xa0))            # 32 octets
spi_i = H('0011223344556677'); spi_r = H('8899aabbccddeeff')
gir = hashlib.sha512(b'ipsec-es gir').digest() * 4   # 256 octets, stands for a MODP g^ir
out = {'source': 'gen-ike-python.py (Python hashlib/hmac + pyca/cryptography), independent of engine/ike',
       'inputs': {'ni': ni.hex(), 'nr': nr.hex(), 'spiI': spi_i.hex(), 'spiR': spi_r.hex(), 'gir': gir.hex()}}

out['prfPlus'] = [
    {'prf': alg, 'key': k.hex(), 'seed': s.hex(), 'length': n, 'output': prf_plus(alg, k, s, n).hex()}
    for alg, k, s, n in [(5, b'key', b'seed', 40), (5, ni, nr, 32 * 7 + 5), (6, nr + ni, b'\x00', 100), (7, b'k' * 64, spi_i, 255), (2, b'short', b'', 41)]
]

SUITES = [  # (name, prf, encKey octets, integKey octets)
    ('aes256gcm16-prfsha256', 5, 36, 0), ('aes128-sha256-prfsha256', 5, 16, 32),
    ('chacha20poly1305-prfsha384', 6, 36, 0), ('aes256-sha512-prfsha512', 7, 32, 64),
]
out['ikeSa'] = []
for name, alg, ek, ik in SUITES:
    skeyseed = prf(alg, ni + nr, gir)                              # s2.14
    pk = HASH[alg]().digest_size
    stream = prf_plus(alg, skeyseed, ni + nr + spi_i + spi_r, 3 * pk + 2 * ik + 2 * ek)
    names = ['skD', 'skAi', 'skAr', 'skEi', 'skEr', 'skPi', 'skPr']
    keys = dict(zip(names, [x.hex() for x in split(stream, [pk, ik, ik, ek, ek, pk, pk])]))
    # s2.18 rekey: SKEYSEED = prf_old(SK_d(old), g^ir(new) | Ni' | Nr'), new SPIs, new PRF (SHA-256 here)
    ni2, nr2, gir2 = nr[::-1], ni[::-1], gir[::-1][:32]
    spi_i2, spi_r2 = H('0102030405060708'), H('1112131415161718')
    re_seed = prf(alg, H(keys['skD']), gir2 + ni2 + nr2)
    re_stream = prf_plus(5, re_seed, ni2 + nr2 + spi_i2 + spi_r2, 3 * 32 + 2 * 36)
    re_keys = dict(zip(names, [x.hex() for x in split(re_stream, [32, 0, 0, 36, 36, 32, 32])]))
    out['ikeSa'].append({'suite': name, 'prf': alg, 'skeyseed': skeyseed.hex(), **keys,
                         'rekey': {'newTransforms': 'aes256gcm16-prfsha256', 'ni': ni2.hex(), 'nr': nr2.hex(), 'gir': gir2.hex(),
                                   'spiI': spi_i2.hex(), 'spiR': spi_r2.hex(), 'skeyseed': re_seed.hex(), **re_keys}})

sk_d = H(out['ikeSa'][0]['skD'])
out['childSa'] = []
for name, ek, ik, pfs in [('aes128gcm16', 20, 0, False), ('aes256-sha256', 32, 32, True), ('chacha20poly1305', 36, 0, True), ('ah-sha384', 0, 48, False)]:
    seed = (gir[:32] if pfs else b'') + ni + nr                   # s2.17
    km = prf_plus(5, sk_d, seed, 2 * (ek + ik))
    enc_i, int_i, enc_r, int_r = split(km, [ek, ik, ek, ik])
    out['childSa'].append({'suite': name, 'pfs': pfs, 'sharedSecret': gir[:32].hex() if pfs else None,
                           'i2r': {'encKey': enc_i.hex(), 'integKey': int_i.hex()}, 'r2i': {'encKey': enc_r.hex(), 'integKey': int_r.hex()}})

# ---- a real IKE_SA_INIT request, built by hand from s3.1-s3.9, and its PSK AUTH (s2.15) ----
def payload(next_type, body, critical=False):
    return struct.pack('!BBH', next_type, 0x80 if critical else 0, 4 + len(body)) + body

def transform(last, ttype, tid, attrs=b''):
    return struct.pack('!BBHBBH', 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs

key_len_256 = struct.pack('!HH', 0x8000 | 14, 256)
transforms = transform(False, 1, 20, key_len_256) + transform(False, 2, 5) + transform(True, 4, 31)
proposal = struct.pack('!BBHBBBB', 0, 0, 8 + len(transforms), 1, 1, 0, 3) + transforms
ke_pub = x25519.X25519PrivateKey.from_private_bytes(bytes(range(32))).public_key().public_bytes_raw()
body = payload(34, proposal) + payload(40, struct.pack('!HH', 31, 0) + ke_pub) + payload(0, ni)
header = spi_i + bytes(8) + struct.pack('!BBBBII', 33, 0x20, 34, 0x08, 0, 28 + len(body))
init_request = header + body
skeys = out['ikeSa'][0]
id_i = struct.pack('!B3x', 2) + b'initiator.example'                # IDType | RESERVED | data
maced = prf(5, H(skeys['skPi']), id_i)
signed = init_request + nr + maced
psk = b'a pre-shared key of some length, 42 octets'
auth = prf(5, prf(5, psk, b'Key Pad for IKEv2'), signed)
out['pskAuth'] = {'prf': 5, 'realMessage': init_request.hex(), 'peerNonce': nr.hex(), 'skP': skeys['skPi'], 'idType': 2,
                  'idData': b'initiator.example'.hex(), 'psk': psk.hex(), 'signedOctets': signed.hex(), 'auth': auth.hex()}

# ---- NAT detection hashes (s2.23) ----------------------------------------------------------
out['natd'] = [{'spiI': spi_i.hex(), 'spiR': sr.hex(), 'address': a.hex(), 'port': port,
                'hash': hashlib.sha1(spi_i + sr + a + struct.pack('!H', port)).hexdigest()}
               for sr, a, port in [(bytes(8), bytes([192, 0, 2, 1]), 500), (spi_r, bytes([198, 51, 100, 7]), 4500),
                                   (spi_r, H('20010db8000000000000000000000001'), 65535)]]

# ---- SK payloads (s3.14 CBC+HMAC; RFC 5282 GCM) built and sealed here ---------------------
inner = payload(41, struct.pack('!B3x', 2) + b'initiator.example') + payload(0, struct.pack('!BBH', 0, 0, 16384))
def sk_message(exch, flags, msgid, block, iv, seal, icv):
    pad = (block - (len(inner) + 1) % block) % block
    plain = inner + bytes(pad) + bytes([pad])
    sk_len = 4 + len(iv) + len(plain) + icv
    hdr = spi_i + spi_r + struct.pack('!BBBBII', 46, 0x20, exch, flags, msgid, 28 + sk_len)
    prefix = hdr + struct.pack('!BBH', 35, 0, sk_len)             # SK Next Payload = IDi (35)
    return prefix + seal(prefix, plain)
ei, ai = H(out['ikeSa'][1]['skEi']), H(out['ikeSa'][1]['skAi'])
cbc_iv = bytes(range(0xa0, 0xb0))
def cbc_seal(prefix, plain):
    enc = Cipher(algorithms.AES(ei), modes.CBC(cbc_iv)).encryptor()
    ct = cbc_iv + enc.update(plain) + enc.finalize()
    return ct + hmac.new(ai, prefix + ct, hashlib.sha256).digest()[:16]
gcm_key = H(out['ikeSa'][0]['skEi']); gcm_iv = H('0000000000000007')
def gcm_seal(prefix, plain):
    return gcm_iv + AESGCM(gcm_key[:32]).encrypt(gcm_key[32:] + gcm_iv, plain, prefix)
out['sk'] = [
    {'suite': 'aes128-sha256', 'encr': 12, 'encrKeyBits': 128, 'integ': 12, 'encKey': ei.hex(), 'integKey': ai.hex(), 'iv': cbc_iv.hex(),
     'exchangeType': 35, 'initiator': True, 'response': False, 'messageId': 1, 'inner': inner.hex(),
     'message': sk_message(35, 0x08, 1, 16, cbc_iv, cbc_seal, 16).hex()},
    {'suite': 'aes256gcm16', 'encr': 20, 'encrKeyBits': 256, 'integ': 0, 'encKey': gcm_key.hex(), 'iv': gcm_iv.hex(),
     'exchangeType': 37, 'initiator': False, 'response': True, 'messageId': 7, 'inner': inner.hex(),
     'message': sk_message(37, 0x20, 7, 1, gcm_iv, gcm_seal, 16).hex()},
]

with open(os.path.join(HERE, 'ike-python.json'), 'w') as f:
    json.dump(out, f, indent=1); f.write('\n')
print(f'checked {checked} transcribed vectors; wrote ike-python.json')
