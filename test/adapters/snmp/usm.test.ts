/**
 * The USM checks ahead of net-snmp (adapters/snmp/usm.ts): Reports read back as SNMPv3 messages,
 * and no bytes make the checks throw. The real tools' view (snmpset printing "Authentication
 * failure", "Decryption error", "Unknown engine ID") is in ./snmpAgent.test.ts.
 */
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import snmp from 'net-snmp';
import { readV3Header, usmFailure, usmReport, type UsmUser } from '../../../adapters/snmp/usm.js';

const engine = { engineID: Buffer.from('8000b98380aabbccddeeff00112233', 'hex'), engineBoots: 3, engineTime: 1234567 };
/** BER, definite short/long lengths: enough to write a request by hand. */
const der = (tag: number, c: Buffer) => Buffer.concat([Buffer.from(c.length < 128 ? [tag, c.length] : [tag, 0x81, c.length]), c]);
const int = (v: number) => der(0x02, Buffer.from(v < 128 ? [v] : v < 0x8000 ? [v >> 8, v & 0xff] : [0, v >> 16, (v >> 8) & 0xff, v & 0xff]));
const oct = (b: Buffer) => der(0x04, b);
const seq = (...p: Buffer[]) => der(0x30, Buffer.concat(p));

/** RFC 3414 A.2.2 password to key (SHA-256), localized to an engine ID. */
function localized(password: string, engineID: Buffer): Buffer {
  const h = createHash('sha256');
  const p = Buffer.from(password);
  const block = Buffer.alloc(1_048_576);
  for (let i = 0; i < block.length; i++) block[i] = p[i % p.length]!;
  const ku = h.update(block).digest();
  return createHash('sha256').update(Buffer.concat([ku, engineID, ku])).digest();
}

/**
 * A GetRequest for sysDescr.0 as a manager sends it with authPriv: HMAC-SHA-256-192 (RFC 7860)
 * over the message with a zeroed digest, AES-128-CFB (RFC 3826 §3.1: IV = boots, time, salt).
 */
function request(o: { privKey?: string; engineID?: Buffer; name?: string }): Buffer {
  const engineID = o.engineID ?? engine.engineID;
  const salt = Buffer.from('0102030405060708', 'hex');
  const scoped = seq(oct(engineID), oct(Buffer.alloc(0)), der(0xa0, Buffer.concat([int(77), int(0), int(0), seq(seq(der(0x06, Buffer.from('2b06010201010100', 'hex')), Buffer.from([0x05, 0x00])))])));
  const iv = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.alloc(4), salt]);
  iv.writeUInt32BE(engine.engineTime, 4);
  const c = createCipheriv('aes-128-cfb', localized(o.privKey ?? 'priv-secret-2', engineID).subarray(0, 16), iv);
  const encrypted = Buffer.concat([c.update(scoped), c.final()]);
  const usmParams = (digest: Buffer) => oct(seq(oct(engineID), int(engine.engineBoots), int(engine.engineTime), oct(Buffer.from(o.name ?? 'admin')), oct(digest), oct(salt)));
  const message = (digest: Buffer) => seq(int(3), seq(int(4242), int(65507), oct(Buffer.from([7])), int(3)), usmParams(digest), oct(encrypted));
  const digest = createHmac('sha256', localized('auth-secret-1', engineID)).update(message(Buffer.alloc(24))).digest().subarray(0, 24);
  return message(digest);
}

const user: UsmUser = { name: 'admin', authProtocol: snmp.AuthProtocols.sha256!, authKey: 'auth-secret-1', privProtocol: snmp.PrivProtocols.aes!, privKey: 'priv-secret-2' };

describe('USM checks and Reports (RFC 3414 §3.2, RFC 3412 §7.1)', () => {
  it('a Report reads back: version 3, the request\'s msgID, noAuthNoPriv and not reportable, our engine ID, boots and time, a scoped PDU in the clear', () => {
    const r = usmReport({ msgID: 0x7fff_fff0 }, 'wrongDigests', 200, engine);
    const h = readV3Header(r)!;
    expect(h).toMatchObject({ msgID: 0x7fff_fff0, flags: 0, engineBoots: 3, engineTime: 1234567, userName: '' });
    expect(h.engineID.equals(engine.engineID)).toBe(true);
    expect(h.encrypted).toBeUndefined();
    // The varbind: usmStatsWrongDigests.0 (1.3.6.1.6.3.15.1.1.5.0) = Counter32 200.
    expect(r.includes(Buffer.from('060a2b060106030f01010500410200c8', 'hex'))).toBe(true);
  });

  it('a request made here by the RFCs passes; a flipped digest bit is wrongDigests; another privacy key is decryptionErrors; another engine ID is unknownEngineIDs; v2c, noAuth and unknown users are left to net-snmp', () => {
    const ok = request({});
    expect(readV3Header(ok)).toMatchObject({ msgID: 4242, flags: 7, userName: 'admin', engineBoots: 3, engineTime: 1234567 });
    expect(usmFailure(ok, [user], engine.engineID)).toBeUndefined();
    const flipped = Buffer.from(ok);
    flipped[readV3Header(ok)!.authParams.start + 5]! ^= 0x10;
    expect(usmFailure(flipped, [user], engine.engineID)?.failure).toBe('wrongDigests');
    expect(usmFailure(request({ privKey: 'another-priv-key' }), [user], engine.engineID)?.failure).toBe('decryptionErrors');
    expect(usmFailure(request({ engineID: Buffer.from('80001f8880010203', 'hex') }), [user], engine.engineID)?.failure).toBe('unknownEngineIDs');
    expect(usmFailure(request({ name: 'nobody' }), [user], engine.engineID)).toBeUndefined();
    expect(usmFailure(usmReport({ msgID: 1 }, 'wrongDigests', 1, engine), [user], engine.engineID)).toBeUndefined();
    expect(usmFailure(Buffer.from('302902010104067075626c6963a01c02047a69ce7d020100020100300e300c06082b060102010101000500', 'hex'), [user], engine.engineID)).toBeUndefined();
  });

  fcTest.prop([fc.uint8Array({ maxLength: 300 })], { numRuns: 3000 })('any bytes: no throw', (bytes) => {
    const b = Buffer.from(bytes);
    readV3Header(b);
    usmFailure(b, [user], engine.engineID);
  });

  const valid = request({});
  fcTest.prop([fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat()], { numRuns: 1000 })('a mutated or truncated v3 message: no throw', (flips, cut) => {
    const b = Buffer.from(usmReport({ msgID: 9 }, 'decryptionErrors', 1, engine));
    for (const [at, v] of flips) b[at % b.length] = v;
    const m = b.subarray(0, b.length - (cut % 8));
    readV3Header(m);
    usmFailure(m, [{ ...user, name: '' }], engine.engineID);
    const req = Buffer.from(valid);
    for (const [at, v] of flips) req[at % req.length] = v;
    usmFailure(req.subarray(0, req.length - (cut % 8)), [user], engine.engineID);
  });
});
