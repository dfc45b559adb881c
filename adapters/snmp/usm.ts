/**
 * The User-based Security Model's incoming checks (RFC 3414 §3.2) in the order the RFC gives,
 * before net-snmp sees a message, so that a failed check gets the Report PDU the RFC asks for
 * instead of silence: net-snmp 3.x decrypts before it authenticates and drops both failures
 * without a word. Steps checked here: 3 (msgAuthoritativeEngineID unknown → usmStatsUnknownEngineIDs),
 * 6 (digest wrong → usmStatsWrongDigests), 8 (scopedPDU does not decrypt → usmStatsDecryptionErrors).
 * Unknown users, missing security levels and discovery stay with net-snmp, which reports them.
 *
 * Every function here takes any bytes and never throws on their content.
 */
import snmp from 'net-snmp';

/** usmStats (RFC 3414 §5): 1.3.6.1.6.3.15.1.1.<n>.0 */
export const USM_STATS = { unknownEngineIDs: 4, wrongDigests: 5, decryptionErrors: 6 } as const;
export type UsmFailure = keyof typeof USM_STATS;

/** A USM user as net-snmp's authorizer holds it (protocols as net-snmp's numbers). */
export interface UsmUser {
  name: string;
  authProtocol: number;
  authKey: string;
  privProtocol?: number;
  privKey?: string;
}

interface Tlv {
  tag: number;
  /** Where the value starts and ends (end exclusive). */
  value: number;
  end: number;
}

/** One BER TLV at `at`, within `limit`; definite lengths up to 4 octets (RFC 3417 §8). */
function tlv(b: Uint8Array, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = b[at]!;
  let len = b[at + 1]!;
  let value = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || value + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[value + i]!;
    value += n;
  }
  const end = value + len;
  return end <= limit ? { tag, value, end } : undefined;
}

function uint(b: Uint8Array, t: Tlv): number | undefined {
  if (t.tag !== 0x02 || t.end - t.value < 1 || t.end - t.value > 5) return undefined;
  let v = 0;
  for (let i = t.value; i < t.end; i++) v = v * 256 + b[i]!;
  return (b[t.value]! & 0x80) !== 0 ? undefined : v;
}

/** The parts of an SNMPv3 message (RFC 3412 §6, RFC 3414 §2.4) that the USM checks read. */
export interface V3Header {
  msgID: number;
  flags: number;
  engineID: Buffer;
  engineBoots: number;
  engineTime: number;
  userName: string;
  /** Where msgAuthenticationParameters lies in the message. */
  authParams: { start: number; end: number };
  privParams: Buffer;
  /** The encrypted scopedPDU when the privacy flag is set. */
  encrypted?: Buffer;
}

/**
 * Reads an SNMPv3 message's header; undefined for any other version or malformed bytes.
 *
 * @example
 * const h = readV3Header(datagram); if (h && (h.flags & 1)) checkDigest(...)
 */
export function readV3Header(b: Buffer): V3Header | undefined {
  const msg = tlv(b, 0, b.length);
  if (!msg || msg.tag !== 0x30) return undefined;
  const version = tlv(b, msg.value, msg.end);
  if (!version || uint(b, version) !== 3) return undefined;
  const global = tlv(b, version.end, msg.end);
  if (!global || global.tag !== 0x30) return undefined;
  const id = tlv(b, global.value, global.end);
  const max = id && tlv(b, id.end, global.end);
  const flags = max && tlv(b, max.end, global.end);
  const model = flags && tlv(b, flags.end, global.end);
  if (!id || !max || !flags || !model || flags.tag !== 0x04 || flags.end - flags.value !== 1 || uint(b, model) !== 3) return undefined;
  const msgID = uint(b, id);
  const params = tlv(b, global.end, msg.end);
  if (msgID === undefined || !params || params.tag !== 0x04) return undefined;
  const usm = tlv(b, params.value, params.end);
  if (!usm || usm.tag !== 0x30) return undefined;
  const fields: Tlv[] = [];
  for (let at = usm.value; fields.length < 6; ) {
    const f = tlv(b, at, usm.end);
    if (!f) return undefined;
    fields.push(f);
    at = f.end;
  }
  const [engine, boots, time, user, auth, priv] = fields as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv];
  const engineBoots = uint(b, boots);
  const engineTime = uint(b, time);
  if ([engine, user, auth, priv].some((f) => f.tag !== 0x04) || engineBoots === undefined || engineTime === undefined) return undefined;
  const data = tlv(b, params.end, msg.end);
  if (!data) return undefined;
  return {
    msgID,
    flags: b[flags.value]!,
    engineID: b.subarray(engine.value, engine.end),
    engineBoots,
    engineTime,
    userName: b.subarray(user.value, user.end).toString('utf8'),
    authParams: { start: auth.value, end: auth.end },
    privParams: Buffer.from(b.subarray(priv.value, priv.end)),
    ...(data.tag === 0x04 ? { encrypted: b.subarray(data.value, data.end) } : {}),
  };
}

/** A decrypted scopedPDU must read as one: SEQUENCE { contextEngineID, contextName, PDU }. */
function isScopedPdu(b: Buffer): boolean {
  const seq = tlv(b, 0, b.length);
  if (!seq || seq.tag !== 0x30) return false;
  const ctxEngine = tlv(b, seq.value, seq.end);
  const ctxName = ctxEngine && tlv(b, ctxEngine.end, seq.end);
  const pdu = ctxName && tlv(b, ctxName.end, seq.end);
  return !!pdu && ctxEngine!.tag === 0x04 && ctxName!.tag === 0x04 && pdu.tag >= 0xa0 && pdu.tag <= 0xa8;
}

/**
 * RFC 3414 §3.2 steps 3, 6 and 8 for a message to one of `users`: the failure, or undefined when
 * the message passes them or is not one of these checks' business (not v3, no authentication,
 * discovery, unknown user).
 *
 * @example
 * const failure = usmFailure(datagram, users, agent.engine.engineID); // 'wrongDigests'
 */
export function usmFailure(b: Buffer, users: readonly UsmUser[], engineID: Buffer): { failure: UsmFailure; header: V3Header } | undefined {
  const h = readV3Header(b);
  if (!h || (h.flags & 1) === 0 || h.engineID.length === 0) return undefined;
  const user = users.find((u) => u.name === h.userName);
  if (!user) return undefined;
  // Step 3: keys are localized to our engine ID (RFC 3414 §2.6); another one cannot verify.
  if (!h.engineID.equals(engineID)) return { failure: 'unknownEngineIDs', header: h };
  // Step 6: the HMAC over the whole message with the digest field zeroed, on a copy.
  const copy = Buffer.from(b);
  if (!snmp.Authentication.isAuthentic(copy, user.authProtocol, user.authKey, h.engineID, copy.subarray(h.authParams.start, h.authParams.end))) return { failure: 'wrongDigests', header: h };
  // Step 8: decrypt (only after the digest verified), and the result must be a scopedPDU.
  if ((h.flags & 2) !== 0 && user.privProtocol !== undefined && user.privKey !== undefined) {
    if (!h.encrypted) return { failure: 'decryptionErrors', header: h };
    try {
      const plain = snmp.Encryption.decryptPdu(user.privProtocol, h.encrypted, h.privParams, user.privKey, user.authProtocol, { engineID: h.engineID, engineBoots: h.engineBoots, engineTime: h.engineTime });
      if (!isScopedPdu(plain)) return { failure: 'decryptionErrors', header: h };
    } catch {
      return { failure: 'decryptionErrors', header: h };
    }
  }
  return undefined;
}

// ---- the Report PDU (RFC 3412 §7.1 step 3, RFC 3416 §4.2.7) ----

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}
function intBytes(v: number): Buffer {
  const out: number[] = [];
  let x = v >>> 0;
  do {
    out.unshift(x & 0xff);
    x = Math.floor(x / 256);
  } while (x > 0);
  if (out[0]! & 0x80) out.unshift(0); // non-negative (Counter32 and INTEGER alike)
  return Buffer.from(out);
}
const int = (v: number) => der(0x02, intBytes(v));
const octets = (b: Uint8Array) => der(0x04, Buffer.from(b));
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const n of rest) {
    const sub = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) sub.unshift((x & 0x7f) | 0x80);
    out.push(...sub);
  }
  return der(0x06, Buffer.from(out));
}

/**
 * The Report a failed check answers with: noAuthNoPriv and no user name (the keys are what
 * failed), our engine ID, boots and time (so a manager can resynchronise), the incremented
 * usmStats counter, and the request's msgID, also as request-id (the encrypted PDU's own cannot
 * be trusted or read; Net-SNMP's tools match Reports by msgID).
 *
 * @example
 * socket.send(usmReport(header, 'wrongDigests', ++counters.wrongDigests, engine), rinfo.port, rinfo.address);
 */
export function usmReport(request: Pick<V3Header, 'msgID'>, failure: UsmFailure, count: number, engine: { engineID: Buffer; engineBoots: number; engineTime: number }): Buffer {
  // No user name: the manager holds no user at an engine ID it does not know (unknownEngineIDs).
  const security = seq(octets(engine.engineID), int(engine.engineBoots), int(engine.engineTime), octets(Buffer.alloc(0)), octets(Buffer.alloc(0)), octets(Buffer.alloc(0)));
  const varbind = seq(oid(`1.3.6.1.6.3.15.1.1.${USM_STATS[failure]}.0`), der(0x41, intBytes(count)));
  const report = der(0xa8, Buffer.concat([int(request.msgID), int(0), int(0), seq(varbind)]));
  // msgFlags 0: noAuthNoPriv and not reportable (RFC 3412 §7.1 step 3: a Report is never reported).
  return seq(int(3), seq(int(request.msgID), int(65507), octets(Buffer.from([0])), int(3)), octets(security), seq(octets(engine.engineID), octets(Buffer.alloc(0)), report));
}
