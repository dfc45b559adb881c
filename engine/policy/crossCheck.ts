/**
 * Rules between entries, checked once every entry has been read: unique names, reqid links
 * from static SAs to their policies (RFC 9061 ties SAD and SPD entries by reqid), SPIs unique
 * per (direction, protocol, destination) as the inbound lookup keys them (RFC 4301 §4.4.2),
 * SPI allocation ranges that do not overlap each other or a static SA, and references from
 * connections to PAD entries.
 */
import { toHex } from '../bytes.js';
import type { PadEntryDoc, SpdEntryDoc } from './model.js';
import { hexSpi, type Located, type ParseContext } from './parseContext.js';
import type { LocatedConnEntry } from './parseIke.js';
import type { LocatedSadEntry } from './parseSad.js';
import type { LocatedSpdEntry } from './parseSpd.js';

export interface ParsedEntries {
  spd: LocatedSpdEntry[];
  sad: LocatedSadEntry[];
  pad: Located<PadEntryDoc>[];
  connections: LocatedConnEntry[];
}

function uniqueNames(ctx: ParseContext, what: string, entries: readonly Located<{ name: string }>[]): void {
  const seen = new Map<string, Located<{ name: string }>>();
  for (const e of entries) {
    const first = seen.get(e.doc.name);
    if (first) ctx.errorOn(e.el, `${what} name '${e.doc.name}' is already used by the ${what} at line ${ctx.lineOf(first.el)}`);
    else seen.set(e.doc.name, e);
  }
}

/** Checks the rules between entries; reports through `ctx`. */
export function crossCheck(ctx: ParseContext, p: ParsedEntries): void {
  const allSpd = [...p.spd, ...p.connections.flatMap((c) => c.spd)];
  uniqueNames(ctx, 'spd-entry', allSpd);
  uniqueNames(ctx, 'sad-entry', p.sad);
  uniqueNames(ctx, 'pad-entry', p.pad);
  uniqueNames(ctx, 'conn-entry', p.connections);
  checkReqids(ctx, p.spd, p.sad);
  checkSpis(ctx, p.sad, p.connections);
  checkConnections(ctx, p);
}

function checkReqids(ctx: ParseContext, spd: readonly LocatedSpdEntry[], sad: readonly LocatedSadEntry[]): void {
  const byReqid = new Map<number, LocatedSpdEntry[]>();
  for (const e of spd) {
    const reqid = e.doc.reqid;
    if (reqid === undefined) continue;
    const list = byReqid.get(reqid) ?? [];
    const dir = (e.doc as SpdEntryDoc).direction;
    const twin = list.find((o) => (o.doc as SpdEntryDoc).direction === dir);
    if (twin && e.reqidEl) {
      ctx.errorInValue(e.reqidEl, `reqid ${reqid} is already used by ${dir} spd-entry '${twin.doc.name}' (line ${ctx.lineOf(twin.el)})`);
    }
    list.push(e);
    byReqid.set(reqid, list);
  }
  for (const sa of sad) {
    const { reqid, direction, name, suite } = sa.doc;
    if (reqid === undefined || !sa.reqidEl) continue;
    const linked = byReqid.get(reqid);
    if (!linked) {
      ctx.errorInValue(sa.reqidEl, `reqid ${reqid} of sad-entry '${name}' matches no spd-entry`);
      continue;
    }
    const policy = linked.find((e) => (e.doc as SpdEntryDoc).direction === direction);
    if (!policy) {
      ctx.errorInValue(sa.reqidEl, `reqid ${reqid} links ${direction} sad-entry '${name}' to no ${direction} spd-entry; spd-entry '${linked[0]!.doc.name}' (line ${ctx.lineOf(linked[0]!.el)}) is ${(linked[0]!.doc as SpdEntryDoc).direction}`);
      continue;
    }
    const cfg = policy.doc.config.ipsecSaCfg;
    if (!cfg) {
      ctx.errorInValue(sa.reqidEl, `reqid ${reqid} links sad-entry '${name}' to spd-entry '${policy.doc.name}' (line ${ctx.lineOf(policy.el)}), whose action is ${policy.doc.config.action}, not protect`);
      continue;
    }
    const saProtocol = sa.doc.protocolParameters ?? 'esp';
    const policyProtocol = cfg.protocolParameters ?? 'esp';
    if (saProtocol !== policyProtocol) {
      ctx.errorInValue(sa.reqidEl, `sad-entry '${name}' is ${saProtocol} but its spd-entry '${policy.doc.name}' (line ${ctx.lineOf(policy.el)}) protects with ${policyProtocol}`);
    } else if (!cfg.algorithms.includes(suite)) {
      ctx.errorInValue(sa.reqidEl, `suite ${suite} of sad-entry '${name}' is not among the algorithms of spd-entry '${policy.doc.name}' (line ${ctx.lineOf(policy.el)}): ${cfg.algorithms.join(', ')}`);
    }
  }
}

function checkSpis(ctx: ParseContext, sad: readonly LocatedSadEntry[], connections: readonly LocatedConnEntry[]): void {
  const seen = new Map<string, LocatedSadEntry>();
  for (const sa of sad) {
    const { direction, spi } = sa.doc;
    const key = `${direction}/${sa.doc.protocolParameters ?? 'esp'}/${spi}/${toHex(sa.dst)}`;
    const first = seen.get(key);
    if (first) {
      ctx.errorInValue(sa.spiEl, `SPI ${hexSpi(spi)} is already used by ${direction} sad-entry '${first.doc.name}' (line ${ctx.lineOf(first.el)}) for the same destination and protocol`);
    } else seen.set(key, sa);
  }
  const ranged = connections.filter((c) => c.doc.spiRange && c.spiRangeEl);
  for (let i = 0; i < ranged.length; i++) {
    const a = ranged[i]!;
    const ra = a.doc.spiRange!;
    for (let j = 0; j < i; j++) {
      const b = ranged[j]!;
      const rb = b.doc.spiRange!;
      if (ra.start <= rb.end && rb.start <= ra.end) {
        ctx.errorInValue(
          a.spiRangeEl!,
          `SPI range ${hexSpi(ra.start)}-${hexSpi(ra.end)} overlaps range ${hexSpi(rb.start)}-${hexSpi(rb.end)} of conn-entry '${b.doc.name}' (line ${ctx.lineOf(b.el)})`,
        );
      }
    }
  }
  for (const sa of sad) {
    if (sa.doc.direction !== 'inbound') continue;
    for (const c of ranged) {
      const r = c.doc.spiRange!;
      if (sa.doc.spi >= r.start && sa.doc.spi <= r.end) {
        ctx.errorInValue(
          sa.spiEl,
          `SPI ${hexSpi(sa.doc.spi)} of inbound sad-entry '${sa.doc.name}' lies in SPI range ${hexSpi(r.start)}-${hexSpi(r.end)}, which conn-entry '${c.doc.name}' (line ${ctx.lineOf(c.el)}) allocates from`,
        );
      }
    }
  }
}

function checkConnections(ctx: ParseContext, p: ParsedEntries): void {
  const pads = new Set(p.pad.map((e) => e.doc.name));
  for (const c of p.connections) {
    for (const [side, el] of [['local', c.localPadEl], ['remote', c.remotePadEl]] as const) {
      const padName = c.doc[side].padEntryName;
      if (!pads.has(padName) && el) ctx.errorInValue(el, `${side}-pad-entry-name '${padName}' names no pad-entry`);
    }
    for (const e of c.spd) {
      const t = e.doc.config.ipsecSaCfg?.tunnel;
      if (!t || !e.tunnelEl) continue;
      if (t.local !== c.doc.local.address) {
        ctx.errorOn(e.tunnelEl, `tunnel local ${t.local} differs from the conn-entry's local-address ${c.doc.local.address}`);
      }
      if (c.doc.remote.address !== 'any' && t.remote !== c.doc.remote.address) {
        ctx.errorOn(e.tunnelEl, `tunnel remote ${t.remote} differs from the conn-entry's remote-address ${c.doc.remote.address}`);
      }
    }
  }
}
