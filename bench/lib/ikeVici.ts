/**
 * A small client of strongSwan's VICI protocol (charon's control socket; the wire format of
 * strongSwan's `src/libcharon/plugins/vici/README.md`): commands, their responses, and the
 * events a connection registers for. Enough for `bench/ike.bench.ts` to drive charon the way
 * `swanctl` does, without a process per command.
 *
 * Packet: 32-bit big-endian length, then the operation (1 octet), then for named operations a
 * name (8-bit length), then for commands, responses and events a message. A message is a list
 * of elements: SECTION_START name, SECTION_END, KEY_VALUE name value(16-bit length),
 * LIST_START name, LIST_ITEM value, LIST_END.
 */
import { connect, type Socket } from 'node:net';

const OP = { CMD_REQUEST: 0, CMD_RESPONSE: 1, CMD_UNKNOWN: 2, EVENT_REGISTER: 3, EVENT_UNREGISTER: 4, EVENT_CONFIRM: 5, EVENT_UNKNOWN: 6, EVENT: 7 } as const;
const EL = { SECTION_START: 1, SECTION_END: 2, KEY_VALUE: 3, LIST_START: 4, LIST_ITEM: 5, LIST_END: 6 } as const;

/** A VICI message as plain data: values are strings, lists are string arrays, sections nest. */
export interface ViciMessage {
  [key: string]: string | string[] | ViciMessage;
}

/**
 * The elements of a message, in key order.
 *
 * @example
 * encodeViciMessage({ child: 'net', timeout: '0' })
 */
export function encodeViciMessage(m: ViciMessage): Buffer {
  const parts: Buffer[] = [];
  const name = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new RangeError(`VICI name ${s.slice(0, 20)}...: longer than 255 octets`);
    return Buffer.concat([Buffer.of(b.length), b]);
  };
  const value = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 65535) throw new RangeError('VICI value: longer than 65535 octets');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return Buffer.concat([len, b]);
  };
  const walk = (msg: ViciMessage) => {
    for (const [k, v] of Object.entries(msg)) {
      if (typeof v === 'string') parts.push(Buffer.of(EL.KEY_VALUE), name(k), value(v));
      else if (Array.isArray(v)) {
        parts.push(Buffer.of(EL.LIST_START), name(k));
        for (const item of v) parts.push(Buffer.of(EL.LIST_ITEM), value(item));
        parts.push(Buffer.of(EL.LIST_END));
      } else {
        parts.push(Buffer.of(EL.SECTION_START), name(k));
        walk(v);
        parts.push(Buffer.of(EL.SECTION_END));
      }
    }
  };
  walk(m);
  return Buffer.concat(parts);
}

/**
 * A message's elements back into data. Throws RangeError on a truncated or unbalanced message.
 *
 * @example
 * decodeViciMessage(encodeViciMessage({ a: '1' })) // { a: '1' }
 */
export function decodeViciMessage(b: Buffer): ViciMessage {
  const root: ViciMessage = {};
  const stack: ViciMessage[] = [root];
  let list: string[] | undefined;
  let i = 0;
  const need = (n: number) => {
    if (i + n > b.length) throw new RangeError(`VICI message truncated at octet ${i}`);
  };
  const readName = () => {
    need(1);
    const n = b[i++]!;
    need(n);
    const s = b.toString('utf8', i, i + n);
    i += n;
    return s;
  };
  const readValue = () => {
    need(2);
    const n = b.readUInt16BE(i);
    i += 2;
    need(n);
    const s = b.toString('utf8', i, i + n);
    i += n;
    return s;
  };
  while (i < b.length) {
    const top = stack[stack.length - 1]!;
    switch (b[i++]) {
      case EL.SECTION_START: {
        const section: ViciMessage = {};
        top[readName()] = section;
        stack.push(section);
        break;
      }
      case EL.SECTION_END:
        if (stack.length === 1) throw new RangeError('VICI message: SECTION_END without a section');
        stack.pop();
        break;
      case EL.KEY_VALUE: {
        const k = readName();
        top[k] = readValue();
        break;
      }
      case EL.LIST_START:
        list = [];
        top[readName()] = list;
        break;
      case EL.LIST_ITEM:
        if (!list) throw new RangeError('VICI message: LIST_ITEM outside a list');
        list.push(readValue());
        break;
      case EL.LIST_END:
        list = undefined;
        break;
      default:
        throw new RangeError(`VICI message: unknown element type ${b[i - 1]} at octet ${i - 1}`);
    }
  }
  if (stack.length !== 1) throw new RangeError('VICI message: unterminated section');
  return root;
}

/** One connection to charon's VICI socket. Commands on one connection are answered in order. */
export interface ViciSession {
  /** Sends a command and resolves with its response (rejects on CMD_UNKNOWN or a closed socket). */
  command(name: string, message?: ViciMessage): Promise<ViciMessage>;
  /** Registers for an event; `onEvent` sees every event this connection receives. */
  register(event: string): Promise<void>;
  onEvent(handler: (name: string, message: ViciMessage) => void): void;
  close(): void;
}

/**
 * Opens a VICI connection to a unix socket path.
 *
 * @example
 * const v = await viciConnect('/tmp/x/charon.vici');
 * const stats = await v.command('stats');
 */
export function viciConnect(path: string): Promise<ViciSession> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(path);
    const waiting: Array<{ kind: 'cmd' | 'reg'; resolve: (m: ViciMessage) => void; reject: (e: Error) => void }> = [];
    const handlers: Array<(name: string, message: ViciMessage) => void> = [];
    let buf: Buffer = Buffer.alloc(0);
    const fail = (e: Error) => {
      for (const w of waiting.splice(0)) w.reject(e);
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        const pkt = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        const op = pkt[0];
        if (op === OP.EVENT) {
          const n = pkt[1]!;
          const name = pkt.toString('utf8', 2, 2 + n);
          const message = decodeViciMessage(pkt.subarray(2 + n));
          for (const h of handlers) h(name, message);
        } else if (op === OP.CMD_RESPONSE) {
          waiting.shift()?.resolve(decodeViciMessage(pkt.subarray(1)));
        } else if (op === OP.EVENT_CONFIRM) {
          waiting.shift()?.resolve({});
        } else if (op === OP.CMD_UNKNOWN || op === OP.EVENT_UNKNOWN) {
          waiting.shift()?.reject(new Error(op === OP.CMD_UNKNOWN ? 'VICI: unknown command' : 'VICI: unknown event'));
        }
      }
    });
    sock.on('error', (e) => {
      fail(e);
      reject(e);
    });
    sock.once('close', () => fail(new Error('VICI socket closed')));
    const send = (op: number, name: string, message?: ViciMessage) => {
      const n = Buffer.from(name, 'utf8');
      const body = Buffer.concat([Buffer.of(op, n.length), n, message ? encodeViciMessage(message) : Buffer.alloc(0)]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      sock.write(Buffer.concat([len, body]));
    };
    sock.once('connect', () =>
      resolve({
        command: (name, message = {}) =>
          new Promise((res, rej) => {
            waiting.push({ kind: 'cmd', resolve: res, reject: rej });
            send(OP.CMD_REQUEST, name, message);
          }),
        register: (event) =>
          new Promise((res, rej) => {
            waiting.push({ kind: 'reg', resolve: () => res(), reject: rej });
            send(OP.EVENT_REGISTER, event);
          }),
        onEvent: (h) => void handlers.push(h),
        close: () => sock.destroy(),
      }),
    );
  });
}
