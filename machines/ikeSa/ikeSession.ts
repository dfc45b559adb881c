/**
 * One IKE SA's message layer (RFC 7296 §2.1–§2.3): SPIs, the negotiated suite and keys, the SK
 * protection of each direction, Message IDs with a window of one, retransmission of the
 * request's stored bytes with exponential backoff and a retry limit, and the responder's cache
 * of its last response (a retransmitted request is answered with the same bytes, never
 * processed twice). No exchange logic lives here: the daemon builds payloads and reads them.
 */
import { IKE_EXCHANGE } from '../../engine/ike/constants.js';
import { decodeIkeHeader } from '../../engine/ike/header.js';
import { notifyForDecodeFailure } from '../../engine/ike/message.js';
import { createPrf, type Prf } from '../../engine/ike/prf.js';
import { createSkCipher, protectIkeMessage, unprotectIkeMessage, type SkCipher } from '../../engine/ike/sk.js';
import type { IkeSaKeys } from '../../engine/ike/keySchedule.js';
import type { IkeHeader, IkeMessage, IkePayload } from '../../engine/ike/types.js';
import type { IkeSuite } from './proposals.js';
import type { Clock, Random } from '../ports.js';

/** Where an IKE SA's messages go: the peer's address and port, and whether behind the non-ESP marker (port 4500, RFC 3948 §2.2). */
export interface IkePath {
  remote: { address: string; port: number };
  natT: boolean;
}

export interface IkeSessionOptions {
  /** Our IKE SA id (the lifecycle actor's, stream `ike-<id>`). */
  id: string;
  /** True when we are the original initiator (the I flag we send, §3.1). */
  originalInitiator: boolean;
  spiI: Uint8Array;
  spiR: Uint8Array;
  suite: IkeSuite;
  keys: IkeSaKeys;
  path: IkePath;
  clock: Clock;
  random: Random;
  send: (bytes: Uint8Array, path: IkePath) => void;
  /** Retransmission timeouts (§2.1: exponential backoff); the request fails after the last. Default 0.5, 1, 2, 4, 8 s. */
  retransmitMs?: readonly number[];
  /** The next Message ID we send in a request, and the next we expect from the peer (1 after IKE_AUTH's 1 … continues). */
  nextRequestId?: number;
  nextPeerRequestId?: number;
  /** Told of each message dropped, with the reason (the daemon counts them). */
  onDrop?: (reason: string) => void;
}

/** A request that got no answer after every retransmission (§2.4: the IKE SA is then deleted). */
export class IkeTimeout extends Error {
  constructor(exchange: number, messageId: number) {
    super(`no response to ${exchangeName(exchange)} request ${messageId} after retransmissions (RFC 7296 §2.4)`);
    this.name = 'IkeTimeout';
  }
}

export const exchangeName = (t: number): string => Object.entries(IKE_EXCHANGE).find(([, v]) => v === t)?.[0] ?? `EXCHANGE(${t})`;

interface Pending {
  messageId: number;
  exchange: number;
  bytes: Uint8Array;
  attempt: number;
  timer: unknown;
  resolve: (payloads: IkePayload[]) => void;
  reject: (e: Error) => void;
}

/**
 * @example
 * const s = new IkeSession({ id, originalInitiator: true, spiI, spiR, suite, keys, path, clock, random, send });
 * const reply = await s.request(IKE_EXCHANGE.INFORMATIONAL, []);
 */
export class IkeSession {
  readonly id: string;
  readonly originalInitiator: boolean;
  readonly spiI: Uint8Array;
  readonly spiR: Uint8Array;
  readonly suite: IkeSuite;
  readonly keys: IkeSaKeys;
  readonly prf: Prf;
  path: IkePath;
  /** Messages received and authenticated; the daemon's liveness check reads it. */
  lastHeardAt: number;
  readonly #out: SkCipher;
  readonly #in: SkCipher;
  readonly #o: IkeSessionOptions;
  #nextRequestId: number;
  #nextPeerRequestId: number;
  #lastResponse: { messageId: number; bytes: Uint8Array } | undefined;
  #pending: Pending | undefined;
  readonly #queue: Array<() => void> = [];
  #closed = false;

  constructor(o: IkeSessionOptions) {
    this.#o = o;
    this.id = o.id;
    this.originalInitiator = o.originalInitiator;
    this.spiI = o.spiI;
    this.spiR = o.spiR;
    this.suite = o.suite;
    this.keys = o.keys;
    this.path = o.path;
    this.prf = createPrf(o.suite.prf);
    const transforms = { encr: o.suite.encr, ...(o.suite.encrKeyBits !== undefined ? { encrKeyBits: o.suite.encrKeyBits } : {}), integ: o.suite.integ };
    // §2.14: SK_ei/SK_ai protect what the original initiator sends, SK_er/SK_ar the other way.
    const i = { encKey: o.keys.skEi, ...(o.keys.skAi.length ? { integKey: o.keys.skAi } : {}) };
    const r = { encKey: o.keys.skEr, ...(o.keys.skAr.length ? { integKey: o.keys.skAr } : {}) };
    this.#out = createSkCipher(transforms, o.originalInitiator ? i : r);
    this.#in = createSkCipher(transforms, o.originalInitiator ? r : i);
    this.#nextRequestId = o.nextRequestId ?? 0;
    this.#nextPeerRequestId = o.nextPeerRequestId ?? 0;
    this.lastHeardAt = o.clock.now();
  }

  /** Our SPI (the one the peer addresses us by) as hex. */
  get localSpi(): Uint8Array {
    return this.originalInitiator ? this.spiI : this.spiR;
  }

  get nextRequestId(): number {
    return this.#nextRequestId;
  }

  get nextPeerRequestId(): number {
    return this.#nextPeerRequestId;
  }

  get busy(): boolean {
    return this.#pending !== undefined;
  }

  #header(exchange: number, response: boolean, messageId: number): IkeHeader {
    return { spiI: this.spiI, spiR: this.spiR, minorVersion: 0, exchangeType: exchange, initiator: this.originalInitiator, response, messageId };
  }

  #seal(header: IkeHeader, payloads: IkePayload[]): Uint8Array {
    return protectIkeMessage({ header, payloads, iv: this.#o.random.bytes(this.#out.ivLength) }, this.#out);
  }

  /**
   * Sends a request and resolves with the response's payloads. Requests wait their turn: our
   * window is one (§2.3: "the default value is 1"). Rejects with `IkeTimeout` after the last
   * retransmission, or when the session closes.
   */
  request(exchange: number, payloads: IkePayload[]): Promise<IkePayload[]> {
    return new Promise((resolve, reject) => {
      const go = () => {
        if (this.#closed) return reject(new Error(`IKE SA ${this.id} is closed`));
        const messageId = this.#nextRequestId++;
        const bytes = this.#seal(this.#header(exchange, false, messageId), payloads);
        this.#pending = { messageId, exchange, bytes, attempt: 0, timer: undefined, resolve, reject };
        this.#transmit();
      };
      if (this.#pending) this.#queue.push(go);
      else go();
    });
  }

  #transmit(): void {
    const p = this.#pending!;
    this.#o.send(p.bytes, this.path);
    const waits = this.#o.retransmitMs ?? [500, 1000, 2000, 4000, 8000];
    const wait = waits[p.attempt];
    p.timer = this.#o.clock.setTimeout(() => {
      if (this.#pending !== p) return;
      // §2.1: retransmit the same bytes; after the last timeout the peer is considered dead.
      if (p.attempt + 1 >= waits.length) return this.#settle(undefined, new IkeTimeout(p.exchange, p.messageId));
      p.attempt++;
      this.#transmit();
    }, wait ?? 0);
  }

  #settle(payloads: IkePayload[] | undefined, error?: Error): void {
    const p = this.#pending;
    if (!p) return;
    this.#o.clock.clearTimeout(p.timer);
    this.#pending = undefined;
    if (error) p.reject(error);
    else p.resolve(payloads!);
    this.#queue.shift()?.();
  }

  #drop(reason: string): undefined {
    // Counted by the owner, never thrown (a bad message is a counted drop with a reason).
    this.#o.onDrop?.(reason);
    return undefined;
  }

  /**
   * A datagram for this IKE SA (after the marker). Responses settle the pending request;
   * requests come back as `{ request }` for the daemon to answer with `respond`; a request we
   * already answered is answered again from the cache (§2.1). Everything else is a counted drop.
   */
  receive(bytes: Uint8Array, from: IkePath): { request: IkeMessage } | undefined {
    const h = decodeIkeHeader(bytes);
    if (!h.ok) return this.#drop('malformed');
    const { header } = h;
    // §3.1: the I flag says who sent it; a message claiming our own role is not for us.
    if (header.initiator === this.originalInitiator) return this.#drop('wrongRole');
    if (header.response) {
      const p = this.#pending;
      if (!p || header.messageId !== p.messageId) return this.#drop('unexpectedResponse');
      const r = unprotectIkeMessage(bytes, this.#in);
      if (!r.ok) return this.#drop(r.reason);
      this.#heard(from);
      this.#settle(r.message.payloads);
      return undefined;
    }
    if (header.messageId === this.#nextPeerRequestId - 1 && this.#lastResponse?.messageId === header.messageId) {
      // §2.1: a retransmitted request; answer with the same bytes, after checking it is genuine.
      const r = unprotectIkeMessage(bytes, this.#in);
      if (!r.ok) return this.#drop(r.reason);
      this.#o.send(this.#lastResponse.bytes, from);
      return this.#drop('retransmittedRequest');
    }
    if (header.messageId !== this.#nextPeerRequestId) return this.#drop('messageIdOutOfWindow');
    const r = unprotectIkeMessage(bytes, this.#in);
    if (!r.ok) {
      // Its ICV verified but what is inside is refused: answered, which uses its Message ID.
      // §2.5: the response "MUST include a Notify payload UNSUPPORTED_CRITICAL_PAYLOAD";
      // §3.10.1: INVALID_SYNTAX "MUST be sent in response to any error not covered" otherwise.
      const n = r.authenticated ? notifyForDecodeFailure(r) : undefined;
      if (n) this.respond({ header, payloads: [] }, [{ type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType: n.notifyType, data: n.data }]);
      return this.#drop(r.reason);
    }
    this.#heard(from);
    return { request: r.message };
  }

  #heard(from: IkePath): void {
    this.lastHeardAt = this.#o.clock.now();
    // RFC 7296 §2.23: after NAT detection, the peer's latest authenticated source is where we send.
    if (from.natT) this.path = from;
  }

  /** Answers the request with Message ID `messageId` (the one `receive` returned). */
  respond(request: IkeMessage, payloads: IkePayload[]): void {
    const messageId = request.header.messageId;
    const bytes = this.#seal(this.#header(request.header.exchangeType, true, messageId), payloads);
    this.#lastResponse = { messageId, bytes };
    this.#nextPeerRequestId = messageId + 1;
    this.#o.send(bytes, this.path);
  }

  /** Stops retransmitting; pending and queued requests reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settle(undefined, new Error(`IKE SA ${this.id} closed`));
    for (const go of this.#queue.splice(0)) go();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
