/**
 * `<spd-entry>` and what it holds (RFC 9061 `ipsec-policy-grouping`): traffic selectors, the
 * action, and for PROTECT the `<ipsec-sa-cfg>` with its algorithms, mode, tunnel and lifetimes.
 */
import { REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN } from '../replay/replayWindow.js';
import type { ConnSpdEntryDoc, IpsecPolicyConfigDoc, IpsecSaCfgDoc, SpdEntryDoc } from './model.js';
import { Children, clip, leafText, readBool, readEnum, readName, readUint, type Located, type ParseContext } from './parseContext.js';
import { checkSoftBeforeHard, readLifetime, readTrafficSelector, readTunnel } from './parseSelectors.js';
import { AH_INTEG_NAMES, ESP_SUITE_NAMES, ahIntegByName, closestName, espSuiteByName } from './suiteNames.js';
import type { XmlElement } from './xmlTree.js';

/** An spd-entry with the source positions later checks need. */
export interface LocatedSpdEntry extends Located<SpdEntryDoc | ConnSpdEntryDoc> {
  readonly reqidEl: XmlElement | undefined;
  /** The conn-entry it belongs to; undefined for `<ipsec-ikeless>` entries. */
  readonly conn: string | undefined;
  /** The `<tunnel>` element, when the entry has one. */
  readonly tunnelEl: XmlElement | undefined;
}

/**
 * Reads a replay window size: 0 (off) or 32..4096, as the data path accepts.
 */
export function readReplayWindow(ctx: ParseContext, el: XmlElement | undefined): number | undefined {
  const value = readUint(ctx, el, 0, 0xffffffff, 'anti-replay-window-size');
  if (value === undefined || !el) return undefined;
  if (value !== 0 && (value < REPLAY_WINDOW_MIN || value > REPLAY_WINDOW_MAX)) {
    ctx.errorInValue(el, `anti-replay window ${value} must be 0 (off) or ${REPLAY_WINDOW_MIN} to ${REPLAY_WINDOW_MAX}`);
    return undefined;
  }
  return value;
}

/** Reads an ESP suite name or AH integrity name and says what is wrong with an unknown one. */
export function readSuite(ctx: ParseContext, el: XmlElement | undefined, protocol: 'esp' | 'ah'): string | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  const name = text;
  if (protocol === 'esp' ? espSuiteByName(name) : ahIntegByName(name) !== undefined) return name;
  const names = protocol === 'esp' ? ESP_SUITE_NAMES : AH_INTEG_NAMES;
  const near = closestName(name, names);
  const what = protocol === 'esp' ? 'suite' : 'AH integrity algorithm';
  const other = protocol === 'esp' ? ahIntegByName(name) !== undefined : espSuiteByName(name) !== undefined;
  ctx.errorInValue(
    el,
    other
      ? `'${clip(text)}' is ${protocol === 'esp' ? 'an AH integrity algorithm, not an ESP suite' : 'an ESP suite, not an AH integrity algorithm'}`
      : `unknown ${what} '${clip(text)}'${near ? `; did you mean '${near}'?` : `; known: ${names.slice(0, 8).join(', ')}, ...`}`,
  );
  return undefined;
}

function readAlgorithms(ctx: ParseContext, kids: Children, protocol: 'esp' | 'ah', cfgEl: XmlElement): string[] | undefined {
  const [wanted, unwanted, item] = protocol === 'esp' ? ['esp-algorithms', 'ah-algorithms', 'suite'] : ['ah-algorithms', 'esp-algorithms', 'integrity'];
  const wrong = kids.one(unwanted);
  if (wrong) {
    ctx.errorOn(wrong, `<${unwanted}> does not apply: protocol-parameters is ${protocol}; use <${wanted}>`);
    return undefined;
  }
  const el = kids.one(wanted);
  if (!el) {
    ctx.errorOn(cfgEl, `<ipsec-sa-cfg> needs <${wanted}> with at least one <${item}>`);
    return undefined;
  }
  const list = new Children(ctx, el, { [item]: 'many' }).many(item);
  if (list.length === 0) {
    ctx.errorOn(el, `<${wanted}> needs at least one <${item}>`);
    return undefined;
  }
  const names: string[] = [];
  let ok = true;
  for (const s of list) {
    const name = readSuite(ctx, s, protocol);
    if (name === undefined) ok = false;
    else if (names.includes(name)) {
      ctx.errorInValue(s, `${protocol === 'esp' ? 'suite' : 'integrity algorithm'} '${name}' is listed twice`);
      ok = false;
    } else names.push(name);
  }
  return ok ? names : undefined;
}

/** `<ipsec-sa-cfg>`. */
function readIpsecSaCfg(ctx: ParseContext, el: XmlElement, inConn: boolean): { doc: IpsecSaCfgDoc; tunnelEl: XmlElement | undefined } | undefined {
  const kids = new Children(ctx, el, {
    'ext-seq-num': 'one',
    mode: 'one',
    'protocol-parameters': 'one',
    'esp-algorithms': 'one',
    'ah-algorithms': 'one',
    tunnel: 'one',
    'sa-lifetime-soft': 'one',
    'sa-lifetime-hard': 'one',
    offload: 'one',
    'negotiation-shunt': 'one',
    'nat-traversal': 'one',
  });
  const extSeqNum = readBool(ctx, kids.one('ext-seq-num'));
  const modeEl = kids.one('mode');
  const mode = readEnum(ctx, modeEl, ['tunnel', 'transport'] as const);
  const protocolEl = kids.one('protocol-parameters');
  const protocol = readEnum(ctx, protocolEl, ['esp', 'ah'] as const);
  const algorithms = readAlgorithms(ctx, kids, protocol ?? 'esp', el);
  const tunnelEl = kids.one('tunnel');
  const tunnel = tunnelEl ? readTunnel(ctx, tunnelEl) : undefined;
  const softEl = kids.one('sa-lifetime-soft');
  const soft = readLifetime(ctx, softEl);
  const hard = readLifetime(ctx, kids.one('sa-lifetime-hard'));
  checkSoftBeforeHard(ctx, soft, hard, softEl);
  const offload = readEnum(ctx, kids.one('offload'), ['none', 'prefer', 'require'] as const);
  const shunt = readEnum(ctx, kids.one('negotiation-shunt'), ['hold', 'drop', 'pass'] as const);
  const natTraversal = readBool(ctx, kids.one('nat-traversal'));
  const effectiveMode = mode ?? 'transport';
  if (tunnelEl && effectiveMode === 'transport' && (mode !== undefined || !modeEl)) {
    ctx.errorOn(tunnelEl, `<tunnel> is only for tunnel mode; mode is transport${mode === undefined ? ' (the default): add <mode>tunnel</mode>' : ''}`);
    return undefined;
  }
  if (!tunnelEl && effectiveMode === 'tunnel' && !inConn) {
    ctx.errorOn(modeEl ?? el, 'tunnel mode needs a <tunnel> with <local> and <remote> endpoints');
    return undefined;
  }
  if (!algorithms || (tunnelEl && !tunnel) || (modeEl && !mode) || (protocolEl && !protocol)) return undefined;
  const doc: IpsecSaCfgDoc = { algorithms };
  if (extSeqNum !== undefined) doc.extSeqNum = extSeqNum;
  if (mode) doc.mode = mode;
  if (protocol) doc.protocolParameters = protocol;
  if (tunnel) doc.tunnel = tunnel.doc;
  if (soft) doc.saLifetimeSoft = soft;
  if (hard) doc.saLifetimeHard = hard;
  if (offload) doc.offload = offload;
  if (shunt) doc.negotiationShunt = shunt;
  if (natTraversal !== undefined) doc.natTraversal = natTraversal;
  return { doc, tunnelEl };
}

/** `<ipsec-policy-config>`. */
function readPolicyConfig(ctx: ParseContext, el: XmlElement, inConn: boolean): { doc: IpsecPolicyConfigDoc; tunnelEl: XmlElement | undefined } | undefined {
  const kids = new Children(ctx, el, {
    'anti-replay-window-size': 'one',
    'traffic-selector': 'many',
    'processing-info': 'one',
  });
  const windowEl = kids.one('anti-replay-window-size');
  const window = readReplayWindow(ctx, windowEl);
  const selectorEls = kids.many('traffic-selector');
  if (selectorEls.length === 0) ctx.errorOn(el, '<ipsec-policy-config> needs at least one <traffic-selector>');
  const selectors = selectorEls.map((s) => readTrafficSelector(ctx, s)?.doc);
  const infoEl = kids.need('processing-info');
  if (!infoEl) return undefined;
  const info = new Children(ctx, infoEl, { action: 'one', 'ipsec-sa-cfg': 'one' });
  const action = readEnum(ctx, info.need('action'), ['protect', 'bypass', 'discard'] as const);
  const cfgEl = info.one('ipsec-sa-cfg');
  if (action === 'protect' && !cfgEl) {
    ctx.errorOn(infoEl, 'action protect needs an <ipsec-sa-cfg> saying how');
  }
  if (action !== undefined && action !== 'protect' && cfgEl) {
    ctx.errorOn(cfgEl, `<ipsec-sa-cfg> is only for action protect; this entry's action is ${action}`);
  }
  if (action !== undefined && action !== 'protect' && windowEl) {
    ctx.errorOn(windowEl, `anti-replay-window-size is only for action protect; this entry's action is ${action}`);
  }
  const cfg = cfgEl && action === 'protect' ? readIpsecSaCfg(ctx, cfgEl, inConn) : undefined;
  if (cfg?.doc.extSeqNum && window === 0 && windowEl) {
    // RFC 4303 App. A2: the receiver infers the high sequence bits from its window.
    ctx.errorInValue(windowEl, 'ext-seq-num needs an anti-replay window (RFC 4303 App. A2 infers the high bits from it); 0 turns it off');
    return undefined;
  }
  if (action === undefined || selectors.length === 0 || selectors.some((s) => s === undefined)) return undefined;
  if (action === 'protect' && !cfg) return undefined;
  if (windowEl && window === undefined) return undefined;
  const doc: IpsecPolicyConfigDoc = { trafficSelectors: selectors as IpsecPolicyConfigDoc['trafficSelectors'], action };
  if (window !== undefined && action === 'protect') doc.antiReplayWindowSize = window;
  if (cfg && action === 'protect') doc.ipsecSaCfg = cfg.doc;
  if (action !== 'protect' && (cfgEl || windowEl)) return undefined;
  return { doc, tunnelEl: cfg?.tunnelEl };
}

/**
 * `<spd-entry>`: in `<ipsec-ikeless>` with a `<direction>`; in a `<conn-entry>` (`conn` set)
 * without one, as IKE installs it both ways (RFC 9061 `ietf-i2nsf-ike`).
 */
export function readSpdEntry(ctx: ParseContext, el: XmlElement, conn: string | undefined): LocatedSpdEntry | undefined {
  const kids = new Children(ctx, el, {
    name: 'one',
    direction: 'one',
    reqid: 'one',
    priority: 'one',
    'ipsec-policy-config': 'one',
  });
  const name = readName(ctx, kids.need('name'));
  const dirEl = kids.one('direction');
  let direction: 'inbound' | 'outbound' | undefined;
  if (conn !== undefined) {
    if (dirEl) ctx.errorOn(dirEl, `an spd-entry of a conn-entry has no <direction>: IKE installs it both ways`);
  } else {
    direction = readEnum(ctx, kids.need('direction'), ['inbound', 'outbound'] as const);
  }
  const reqidEl = kids.one('reqid');
  const reqid = readUint(ctx, reqidEl, 1, 0xffffffff, 'reqid');
  const priorityEl = kids.one('priority');
  const priority = readUint(ctx, priorityEl, 0, 0xffffffff, 'priority');
  const configEl = kids.need('ipsec-policy-config');
  const config = configEl ? readPolicyConfig(ctx, configEl, conn !== undefined) : undefined;
  if (name === undefined || !config || (conn === undefined && direction === undefined)) return undefined;
  if ((reqidEl && reqid === undefined) || (priorityEl && priority === undefined) || (conn !== undefined && dirEl)) return undefined;
  const doc: SpdEntryDoc | ConnSpdEntryDoc =
    direction !== undefined ? { name, direction, config: config.doc } : { name, config: config.doc };
  if (reqid !== undefined) doc.reqid = reqid;
  if (priority !== undefined) doc.priority = priority;
  return { doc, el, reqidEl, conn, tunnelEl: config.tunnelEl };
}
