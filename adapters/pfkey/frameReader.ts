/**
 * Splits a byte stream into PF_KEY messages: each frame is `sadb_msg_len` × 8 octets, read from
 * the header's host-order length field (RFC 2367 §2.2). Handles partial reads and several
 * messages per chunk. A header that cannot start a message (`sadb_msg_len` < 2, or a version other
 * than PF_KEY_V2, which on a stream means the peer lost sync) is a framing error: the stream
 * cannot be resynchronised, so the reader stops and the connection should close.
 */

import { PF_KEY_V2 } from '../../engine/pfkey/constants.js';
import { SADB_MSG_L } from '../../engine/pfkey/layout.js';

export type FrameResult = { frames: Uint8Array[]; error?: string };

export class PfKeyFrameReader {
  #buffer = new Uint8Array(0);
  #failed: string | undefined;

  /** Octets received but not yet framed. */
  get pending(): number {
    return this.#buffer.length;
  }

  /**
   * Adds a chunk; returns the complete frames it finished (each a copy the caller owns) and,
   * once framing fails, the reason (then and on every later call, with no more frames).
   *
   * @example
   * const { frames, error } = reader.push(chunk);
   */
  push(chunk: Uint8Array): FrameResult {
    if (this.#failed) return { frames: [], error: this.#failed };
    const buf = new Uint8Array(this.#buffer.length + chunk.length);
    buf.set(this.#buffer);
    buf.set(chunk, this.#buffer.length);
    const frames: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= SADB_MSG_L.fields.sadb_msg_len[0] + 2) {
      const version = buf[at]!;
      const words = buf[at + 4]! | (buf[at + 5]! << 8); // __u16, host order (little-endian)
      if (version !== PF_KEY_V2) return this.#fail(`sadb_msg_version ${version} at stream offset ${at}: not a PF_KEY v2 header`, frames);
      if (words * 8 < SADB_MSG_L.size) return this.#fail(`sadb_msg_len ${words} is shorter than the 2-word header`, frames);
      if (buf.length - at < words * 8) break;
      frames.push(buf.slice(at, at + words * 8));
      at += words * 8;
    }
    this.#buffer = buf.slice(at);
    return { frames };
  }

  #fail(reason: string, frames: Uint8Array[]): FrameResult {
    this.#failed = reason;
    this.#buffer = new Uint8Array(0);
    return { frames, error: reason };
  }
}
