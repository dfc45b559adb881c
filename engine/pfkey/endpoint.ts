/**
 * The PF_KEY v2 endpoint: the kernel side of RFC 2367 §3.1 over a `SadPort`. It takes one
 * request and returns the replies to its sender and the broadcasts to other sockets; it also
 * originates ACQUIRE and EXPIRE for REGISTER'd listeners. Pure and synchronous: the clock and
 * randomness are arguments. Errors are replies with `sadb_msg_errno` set, never exceptions:
 *
 * | errno      | when (Linux af_key.c / xfrm behaviour we follow)                                   |
 * |------------|------------------------------------------------------------------------------------|
 * | EINVAL     | malformed or missing extensions, bad satype, bad SPI range, bad key size           |
 * | EMSGSIZE   | sadb_msg_len disagrees with the octets received (`pfkey_get_base_msg`)            |
 * | ESRCH      | UPDATE, DELETE or GET of an SA that does not exist (`pfkey_delete`, `pfkey_get`)   |
 * | ENOENT     | GETSPI with no free SPI in the range (`xfrm_alloc_spi`); DUMP of an empty SAD      |
 * | EEXIST     | ADD of an SA that exists; a second REGISTER for one satype (`pfkey_register`)      |
 * | ENOSYS     | an algorithm number we do not implement (`pfkey_msg2xfrm_state`)                   |
 * | EOPNOTSUPP | message types this endpoint does not serve (X_SPD*, X_PROMISC, ...; the SPD is XML) |
 */

import { IpsecError } from '../errors.js';
import { defaultCombs, PFKEY_AUTH_ALGS, PFKEY_ENCR_ALGS } from './algorithms.js';
import { ERRNO, IPSEC_DIR, IPSEC_MODE, IPSEC_POLICY, SADB_SATYPE, SADB_SATYPE_MAX } from './constants.js';
import { decodePfKey } from './decode.js';
import { encodePfKey } from './encode.js';
import { SADB_MSG_L } from './layout.js';
import {
  lifetimeReached,
  matchesFilter,
  presentAndSameFamily,
  protocolOfSatype,
  saExtensions,
  saFromRequest,
  satypeOf,
  sockaddrOf,
  addressOf,
} from './saMessages.js';
import { keyOf, type PfKeyProtocol, type PfKeySa, type RandomInt, type SadPort, type SadPortResult, type SaKey } from './sadPort.js';
import type { Comb, PfKeyDecodeError, PfKeyErrorCode, PfKeyMessage, PfKeyMessageOf } from './types.js';

/** A connected PF_KEY client, named by the transport (e.g. one Unix socket connection). */
export type ClientId = string;

/** One message for several clients. */
export interface Broadcast {
  to: ClientId[];
  msg: PfKeyMessage;
}

/** What one request produced: replies to its sender, in order, and broadcasts to others. */
export interface EndpointOutput {
  replies: PfKeyMessage[];
  broadcasts: Broadcast[];
}

/** `EndpointOutput` encoded, plus the decode error when the request did not decode. */
export interface EncodedOutput {
  replies: Uint8Array[];
  broadcasts: { to: ClientId[]; bytes: Uint8Array }[];
  decodeError?: PfKeyDecodeError;
}

/** An SA miss the data path reports (RFC 2367 §3.1.6, Linux `pfkey_send_acquire`). */
export interface AcquireRequest {
  protocol: PfKeyProtocol;
  /** Outer source and destination of the wanted SA (4 or 16 octets each). */
  src: Uint8Array;
  dst: Uint8Array;
  /** The outbound policy that asked (X_POLICY id and priority). */
  policy?: { id: number; priority: number };
  /** Proposals to offer; default every combination of our suites, as Linux `dump_esp_combs`. */
  combs?: Comb[];
}

export interface PfKeyEndpointOptions {
  sad: SadPort;
  random: RandomInt;
  /** SPIs GETSPI picks from without an SPIRANGE; default Linux's 0x100..0x0fffffff (`pfkey_getspi`). */
  defaultSpiRange?: { min: number; max: number };
  /** A larval SA nobody UPDATEs is dropped after this long; default 30 s (Linux XFRM_ACQ_EXPIRES). */
  larvalLifetimeMs?: number;
}

const DUMP_EMPTY = ERRNO.ENOENT;
const NOTHING: EndpointOutput = { replies: [], broadcasts: [] };

/**
 * The kernel side of PF_KEY over a SAD.
 *
 * @example
 * const endpoint = new PfKeyEndpoint({ sad: memorySadPort(), random: (n) => randomInt(n) });
 * endpoint.connect('km');
 * const { replies } = endpoint.handle(getspiRequest, 'km', Date.now());
 */
export class PfKeyEndpoint {
  readonly #sad: SadPort;
  readonly #random: RandomInt;
  readonly #spiRange: { min: number; max: number };
  readonly #larvalMs: number;
  /** Connected clients and the satypes each REGISTERed. */
  readonly #clients = new Map<ClientId, Set<number>>();
  #acquireSeq = 0;

  constructor(options: PfKeyEndpointOptions) {
    this.#sad = options.sad;
    this.#random = options.random;
    this.#spiRange = options.defaultSpiRange ?? { min: 0x100, max: 0x0fffffff };
    this.#larvalMs = options.larvalLifetimeMs ?? 30_000;
  }

  /** A client connected (a PF_KEY socket opened). */
  connect(id: ClientId): void {
    if (!this.#clients.has(id)) this.#clients.set(id, new Set());
  }

  /** A client went away: it is no longer a broadcast target or a registered listener. */
  disconnect(id: ClientId): void {
    this.#clients.delete(id);
  }

  /** The clients REGISTERed for an satype. */
  registeredFor(satype: number): ClientId[] {
    return [...this.#clients].filter(([, s]) => s.has(satype)).map(([id]) => id);
  }

  /**
   * Serves one request from `from` (connected implicitly if new). Never throws for anything a
   * client can send: every refusal is an error reply.
   */
  handle(msg: PfKeyMessage, from: ClientId, nowMs: number): EndpointOutput {
    this.connect(from);
    if (msg.reserved) return this.#error(msg, ERRNO.EINVAL); // af_key.c pfkey_get_base_msg
    try {
      switch (msg.type) {
        case 'GETSPI':
          return this.#getspi(msg, nowMs);
        case 'UPDATE':
        case 'ADD':
          return this.#addOrUpdate(msg, from, nowMs);
        case 'DELETE':
          return this.#delete(msg, from);
        case 'GET':
          return this.#get(msg);
        case 'ACQUIRE':
          // af_key.c pfkey_acquire: a key manager reports a failed negotiation with a bare header.
          return Object.keys(msg.ext).length > 0 ? this.#error(msg, ERRNO.EOPNOTSUPP) : NOTHING;
        case 'REGISTER':
          return this.#register(msg, from);
        case 'FLUSH':
          return this.#flush(msg, from);
        case 'DUMP':
          return this.#dump(msg);
        default:
          return this.#error(msg, ERRNO.EOPNOTSUPP);
      }
    } catch (e) {
      // A SAD that enforces a rule of its own (IpsecError, RangeError) refuses the request.
      if (e instanceof IpsecError || e instanceof RangeError) return this.#error(msg, ERRNO.EINVAL);
      throw e;
    }
  }

  /**
   * Decodes, serves and encodes: what a socket transport calls per frame. A request that does
   * not decode gets a bare-header error reply (EMSGSIZE for a length problem, else EINVAL) when
   * at least its 16-octet header arrived.
   *
   * @example
   * const out = endpoint.handleBytes(frame, 'conn-1', Date.now());
   * for (const r of out.replies) socket.write(r);
   */
  handleBytes(bytes: Uint8Array, from: ClientId, nowMs: number): EncodedOutput {
    const r = decodePfKey(bytes);
    if (!r.ok) {
      const replies = bytes.length >= SADB_MSG_L.size ? [rawErrorReply(bytes, errnoForDecode(r.error.code))] : [];
      return { replies, broadcasts: [], decodeError: r.error };
    }
    const out = this.handle(r.msg, from, nowMs);
    return {
      replies: out.replies.map(encodePfKey),
      broadcasts: out.broadcasts.map((b) => ({ to: b.to, bytes: encodePfKey(b.msg) })),
    };
  }

  /**
   * An ACQUIRE for an SA miss, to the listeners REGISTERed for its satype (RFC 2367 §3.1.6):
   * <base, address(SD), X_POLICY, proposal>, as Linux `pfkey_send_acquire` builds it. The key
   * manager answers with GETSPI carrying the same `seq`.
   */
  acquire(req: AcquireRequest): { seq: number; broadcasts: Broadcast[] } {
    this.#acquireSeq = this.#acquireSeq >= 0xffffffff ? 1 : this.#acquireSeq + 1;
    const seq = this.#acquireSeq;
    const satype = satypeOf(req.protocol);
    const prefixlen = req.src.length * 8;
    const msg: PfKeyMessageOf<'ACQUIRE'> = {
      type: 'ACQUIRE',
      satype,
      errno: 0,
      seq,
      pid: 0,
      ext: {
        addressSrc: { proto: 0, prefixlen, addr: sockaddrOf(req.src) },
        addressDst: { proto: 0, prefixlen, addr: sockaddrOf(req.dst) },
        policy: {
          policyType: IPSEC_POLICY.IPSEC,
          dir: IPSEC_DIR.OUTBOUND,
          id: req.policy?.id ?? 0,
          priority: req.policy?.priority ?? 0,
          requests: [],
        },
        proposal: { replay: 32, combs: req.combs ?? defaultCombs(req.protocol) },
      },
    };
    const to = this.registeredFor(satype);
    return { seq, broadcasts: to.length ? [{ to, msg }] : [] };
  }

  /**
   * An EXPIRE for one SA to the listeners REGISTERed for its satype (RFC 2367 §3.1.8):
   * <base, SA, lifetime(C and the one reached), address(SD)>, no keys. It changes nothing; `tick`
   * is the caller that also marks the SA dying or removes it.
   */
  expire(key: SaKey, kind: 'soft' | 'hard'): Broadcast[] {
    const sa = this.#sad.get(key);
    if (!sa) return [];
    const msg: PfKeyMessageOf<'EXPIRE'> = {
      type: 'EXPIRE',
      satype: satypeOf(sa.protocol),
      errno: 0,
      seq: 0,
      pid: 0,
      ext: saExtensions(sa, this.#sad.usage(key), { keys: false, lifetimes: kind, current: true, sa2: true }) as PfKeyMessageOf<'EXPIRE'>['ext'],
    };
    const to = this.registeredFor(msg.satype);
    return to.length ? [{ to, msg }] : [];
  }

  /**
   * Applies lifetimes at `nowMs` (RFC 2367 §3.1.8, RFC 4301 §4.4.2.1): a mature SA past its soft
   * limit becomes DYING and its listeners get a soft EXPIRE; an SA past its hard limit is removed
   * after a hard EXPIRE; a larval SA older than `larvalLifetimeMs` is removed silently.
   */
  tick(nowMs: number): Broadcast[] {
    const out: Broadcast[] = [];
    for (const sa of this.#sad.list()) {
      const key = keyOf(sa);
      if (sa.state === 'larval') {
        if (nowMs - sa.addedAtMs >= this.#larvalMs) this.#sad.remove(key);
        continue;
      }
      const usage = this.#sad.usage(key);
      if (lifetimeReached(sa.hard, sa, usage, nowMs)) {
        out.push(...this.expire(key, 'hard'));
        this.#sad.remove(key);
      } else if (sa.state === 'mature' && lifetimeReached(sa.soft, sa, usage, nowMs)) {
        this.#sad.replace({ ...sa, state: 'dying' });
        out.push(...this.expire(key, 'soft'));
      }
    }
    return out;
  }

  // --- RFC 2367 §3.1 -----------------------------------------------------------------------------

  /** §3.1.1: allocate an SPI in the range and create a LARVAL SA; reply <base, SA(*), address(SD)>. */
  #getspi(msg: PfKeyMessageOf<'GETSPI'>, nowMs: number): EndpointOutput {
    const x = msg.ext;
    const protocol = protocolOfSatype(msg.satype);
    if (!protocol || !presentAndSameFamily(x.addressSrc, x.addressDst)) return this.#error(msg, ERRNO.EINVAL);
    let mode: PfKeySa['mode'] = 'transport';
    if (x.sa2 && x.sa2.mode === IPSEC_MODE.TUNNEL) mode = 'tunnel';
    else if (x.sa2 && x.sa2.mode !== IPSEC_MODE.ANY && x.sa2.mode !== IPSEC_MODE.TRANSPORT) return this.#error(msg, ERRNO.EINVAL);
    const wanted = x.spiRange ?? this.#spiRange;
    const range = { min: Math.max(wanted.min, 256), max: wanted.max }; // RFC 4303 §2.1: 1..255 reserved
    if (range.min > range.max) return this.#error(msg, ERRNO.EINVAL);
    const spi = this.#sad.allocateSpi(range, this.#random);
    if (spi === undefined) return this.#error(msg, ERRNO.ENOENT);
    const sa: PfKeySa = {
      spi,
      protocol,
      src: addressOf(x.addressSrc!.addr),
      dst: addressOf(x.addressDst!.addr),
      state: 'larval',
      mode,
      reqid: x.sa2?.reqid ?? 0,
      replayWindow: 0,
      flags: 0,
      addedAtMs: nowMs,
    };
    const added = this.#sad.add(sa);
    if (!added.ok) return this.#error(msg, errnoForPort(added));
    const ext = saExtensions(sa, undefined, { keys: false, lifetimes: 'none', current: false, sa2: true });
    return { replies: [{ ...header(msg), type: 'GETSPI', ext }], broadcasts: [] };
  }

  /**
   * §3.1.2 UPDATE completes a LARVAL SA (or changes only the lifetimes and NAT-T ports of a
   * MATURE one, as Linux `__xfrm_state_update` and FreeBSD `key_update` do); §3.1.3 ADD installs a
   * new MATURE SA. The reply, sent to the requester and to every other socket, carries no keys.
   */
  #addOrUpdate(msg: PfKeyMessageOf<'UPDATE'> | PfKeyMessageOf<'ADD'>, from: ClientId, nowMs: number): EndpointOutput {
    const parsed = saFromRequest(msg, nowMs);
    if (!parsed.ok) return this.#error(msg, parsed.errno);
    let sa = parsed.sa;
    const existing = this.#sad.get(keyOf(sa));
    let result: SadPortResult;
    if (msg.type === 'ADD') {
      if (existing) return this.#error(msg, ERRNO.EEXIST);
      result = this.#sad.add(sa);
    } else {
      if (!existing) return this.#error(msg, ERRNO.ESRCH);
      if (existing.state !== 'larval') {
        sa = { ...existing, ...(sa.soft ? { soft: sa.soft, hard: sa.hard } : {}), ...(sa.natT ? { natT: sa.natT } : {}) };
      }
      result = this.#sad.replace(sa);
    }
    if (!result.ok) return this.#error(msg, errnoForPort(result));
    const reply = {
      ...header(msg),
      type: msg.type,
      ext: saExtensions(sa, undefined, { keys: false, lifetimes: 'both', current: false, sa2: true }),
    } as PfKeyMessage;
    return { replies: [reply], broadcasts: this.#toOthers(from, reply) };
  }

  /** §3.1.4: <base, SA(*), address(SD)>, echoed to the requester and every other socket. */
  #delete(msg: PfKeyMessageOf<'DELETE'>, from: ClientId): EndpointOutput {
    const key = this.#keyOfRequest(msg);
    if (!key) return this.#error(msg, ERRNO.EINVAL);
    if (!this.#sad.remove(key)) return this.#error(msg, ERRNO.ESRCH);
    const x = msg.ext;
    const reply: PfKeyMessage = { ...header(msg), type: 'DELETE', ext: { sa: x.sa!, addressSrc: x.addressSrc!, addressDst: x.addressDst! } };
    return { replies: [reply], broadcasts: this.#toOthers(from, reply) };
  }

  /** §3.1.5: the whole SA, keys included, to the requester only. */
  #get(msg: PfKeyMessageOf<'GET'>): EndpointOutput {
    const key = this.#keyOfRequest(msg);
    if (!key) return this.#error(msg, ERRNO.EINVAL);
    const sa = this.#sad.get(key);
    if (!sa) return this.#error(msg, ERRNO.ESRCH);
    const ext = saExtensions(sa, this.#sad.usage(key), { keys: true, lifetimes: 'both', current: true, sa2: true });
    return { replies: [{ ...header(msg), type: 'GET', ext }], broadcasts: [] };
  }

  /**
   * §3.1.7: record the listener for its satype (UNSPEC records nothing, as in Linux) and answer
   * with our algorithms; the answer also goes to the other listeners of that satype.
   */
  #register(msg: PfKeyMessageOf<'REGISTER'>, from: ClientId): EndpointOutput {
    if (msg.satype > SADB_SATYPE_MAX) return this.#error(msg, ERRNO.EINVAL);
    const mine = this.#clients.get(from)!;
    if (msg.satype !== SADB_SATYPE.UNSPEC) {
      if (mine.has(msg.satype)) return this.#error(msg, ERRNO.EEXIST);
      mine.add(msg.satype);
    }
    const reply: PfKeyMessage = {
      ...header(msg),
      type: 'REGISTER',
      ext: {
        supportedAuth: { algs: PFKEY_AUTH_ALGS.map((a) => a.supported) },
        supportedEncrypt: { algs: PFKEY_ENCR_ALGS.map((a) => a.supported) },
      },
    };
    const others = this.registeredFor(msg.satype).filter((id) => id !== from);
    return { replies: [reply], broadcasts: others.length ? [{ to: others, msg: reply }] : [] };
  }

  /** §3.1.9: remove every SA of the satype (UNSPEC: all); <base> to the requester and everyone. */
  #flush(msg: PfKeyMessageOf<'FLUSH'>, from: ClientId): EndpointOutput {
    const protocol = protocolOfSatype(msg.satype);
    if (!protocol && msg.satype !== SADB_SATYPE.UNSPEC) return this.#error(msg, ERRNO.EINVAL);
    for (const sa of this.#sad.list(protocol)) this.#sad.remove(keyOf(sa));
    const reply: PfKeyMessage = { ...header(msg), type: 'FLUSH', ext: {} };
    return { replies: [reply], broadcasts: this.#toOthers(from, reply) };
  }

  /**
   * §3.1.10: one reply per SA with `sadb_msg_seq` counting down to 0 on the last (KAME
   * `key_dump`), keys included; an X_FILTER keeps only SAs whose addresses match its prefixes.
   */
  #dump(msg: PfKeyMessageOf<'DUMP'>): EndpointOutput {
    const protocol = protocolOfSatype(msg.satype);
    if (!protocol && msg.satype !== SADB_SATYPE.UNSPEC) return this.#error(msg, ERRNO.EINVAL);
    const filter = msg.ext.filter;
    if (filter && (filter.splen > 128 || filter.dplen > 128)) return this.#error(msg, ERRNO.EINVAL);
    const sas = this.#sad.list(protocol).filter((sa) => !filter || matchesFilter(sa, filter));
    if (sas.length === 0) return this.#error(msg, DUMP_EMPTY);
    const replies = sas.map((sa, i): PfKeyMessage => ({
      type: 'DUMP',
      satype: satypeOf(sa.protocol),
      errno: 0,
      seq: sas.length - 1 - i,
      pid: msg.pid,
      ext: saExtensions(sa, this.#sad.usage(keyOf(sa)), { keys: true, lifetimes: 'both', current: true, sa2: true }),
    }));
    return { replies, broadcasts: [] };
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** (SPI, dst, protocol) of a DELETE/GET, or undefined when SA or addresses are missing. */
  #keyOfRequest(msg: PfKeyMessageOf<'DELETE'> | PfKeyMessageOf<'GET'>): SaKey | undefined {
    const x = msg.ext;
    const protocol = protocolOfSatype(msg.satype);
    if (!x.sa || !protocol || !presentAndSameFamily(x.addressSrc, x.addressDst)) return undefined;
    return { spi: x.sa.spi, dst: addressOf(x.addressDst!.addr), protocol };
  }

  #toOthers(from: ClientId, msg: PfKeyMessage): Broadcast[] {
    const to = [...this.#clients.keys()].filter((id) => id !== from);
    return to.length ? [{ to, msg }] : [];
  }

  /** af_key.c `pfkey_error`: the request's header with the errno, no extensions. */
  #error(msg: PfKeyMessage, errno: number): EndpointOutput {
    const reply = { ...header(msg), type: msg.type, errno, ext: {} } as PfKeyMessage;
    if (reply.type === 'X_PROMISC') reply.payload = new Uint8Array(0);
    return { replies: [reply], broadcasts: [] };
  }
}

/** A reply header: the request's satype, seq and pid, errno 0, reserved 0. */
function header(msg: PfKeyMessage): { satype: number; errno: number; seq: number; pid: number } {
  return { satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid };
}

/** The errno for a request that did not decode (af_key.c: EMSGSIZE for length, EINVAL otherwise). */
export function errnoForDecode(code: PfKeyErrorCode): number {
  return code === 'lengthMismatch' || code === 'truncated' ? ERRNO.EMSGSIZE : ERRNO.EINVAL;
}

function errnoForPort(r: Exclude<SadPortResult, { ok: true }>): number {
  return r.reason === 'exists' ? ERRNO.EEXIST : r.reason === 'notFound' ? ERRNO.ESRCH : ERRNO.EINVAL;
}

/** The request's 16-octet header with `sadb_msg_errno` set and `sadb_msg_len` 2: a bare error reply. */
function rawErrorReply(request: Uint8Array, errno: number): Uint8Array {
  const out = request.slice(0, SADB_MSG_L.size);
  const v = new DataView(out.buffer);
  v.setUint8(SADB_MSG_L.fields.sadb_msg_errno[0], errno);
  v.setUint16(SADB_MSG_L.fields.sadb_msg_len[0], SADB_MSG_L.size / 8, true);
  return out;
}
