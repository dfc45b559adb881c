/**
 * Writes a policy document in the one canonical form: elements in schema order, two-space
 * indentation, canonical addresses, SPIs in hex, times in seconds. So a file saved, loaded and
 * saved again is byte-identical, and a loaded document saved and loaded again deep-equals it.
 */
import {
  POLICY_NAMESPACE,
  type AddressDoc,
  type ConnEntryDoc,
  type IpsecPolicyConfigDoc,
  type IpsecSaCfgDoc,
  type KeyDoc,
  type LifetimeDoc,
  type PadEntryDoc,
  type PolicyDocument,
  type SadEntryDoc,
  type SpdEntryDoc,
  type ConnSpdEntryDoc,
  type TrafficSelectorDoc,
  type TunnelDoc,
} from './model.js';
import { protocolText } from './parseSelectors.js';

/** A node to write: a leaf with text, or an element with children (none: self-closing). */
type Node = { name: string; text: string } | { name: string; children: Node[] };

const leaf = (name: string, value: string | number | boolean): Node => ({ name, text: String(value) });
const el = (name: string, ...children: (Node | undefined | false)[]): Node => ({
  name,
  children: children.filter((c): c is Node => c !== undefined && c !== false),
});
const opt = (name: string, value: string | number | boolean | undefined): Node | undefined =>
  value === undefined ? undefined : leaf(name, value);

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function write(node: Node, indent: string, out: string[], rootAttrs = ''): void {
  if ('text' in node) {
    out.push(`${indent}<${node.name}>${escape(node.text)}</${node.name}>`);
  } else if (node.children.length === 0) {
    out.push(`${indent}<${node.name}${rootAttrs}/>`);
  } else {
    out.push(`${indent}<${node.name}${rootAttrs}>`);
    for (const c of node.children) write(c, `${indent}  `, out);
    out.push(`${indent}</${node.name}>`);
  }
}

/** Milliseconds as seconds with at most three decimals, no trailing zeros. */
export function secondsText(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = ms % 1000;
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

const spiText = (spi: number): string => `0x${spi.toString(16)}`;

function address(side: 'local' | 'remote', a: AddressDoc): Node {
  switch (a.kind) {
    case 'any':
    case 'opaque':
      return leaf(`${side}-prefix`, a.kind);
    case 'single':
      return leaf(`${side}-prefix`, a.address);
    case 'prefix':
      return leaf(`${side}-prefix`, `${a.address}/${a.length}`);
    case 'range':
      return el(`${side}-range`, leaf('start', a.from), leaf('end', a.to));
  }
}

function numberRange(name: string, r: { kind: 'range'; from: number; to: number } | { kind: 'opaque' } | undefined): Node | undefined {
  if (!r) return undefined;
  return r.kind === 'opaque' ? el(name, el('opaque')) : el(name, leaf('start', r.from), leaf('end', r.to));
}

function trafficSelector(ts: TrafficSelectorDoc): Node {
  const p = ts.innerProtocol;
  const icmp = ts.icmp;
  return el(
    'traffic-selector',
    address('local', ts.local),
    address('remote', ts.remote),
    p && leaf('inner-protocol', p.kind === 'number' ? protocolText(p.value) : p.kind),
    numberRange('local-ports', ts.localPorts),
    numberRange('remote-ports', ts.remotePorts),
    icmp &&
      (icmp.kind === 'opaque'
        ? el('icmp', el('opaque'))
        : el(
            'icmp',
            el('start', leaf('type', icmp.from.type), leaf('code', icmp.from.code)),
            el('end', leaf('type', icmp.to.type), leaf('code', icmp.to.code)),
          )),
    numberRange('mh-type', ts.mhType),
  );
}

function lifetime(name: string, l: LifetimeDoc | undefined): Node | undefined {
  if (!l) return undefined;
  return el(name, l.timeMs !== undefined && leaf('time', secondsText(l.timeMs)), opt('bytes', l.bytes), opt('packets', l.packets));
}

const tunnel = (t: TunnelDoc | undefined): Node | undefined => t && el('tunnel', leaf('local', t.local), leaf('remote', t.remote));

function saCfg(c: IpsecSaCfgDoc): Node {
  const ah = c.protocolParameters === 'ah';
  return el(
    'ipsec-sa-cfg',
    opt('ext-seq-num', c.extSeqNum),
    opt('mode', c.mode),
    opt('protocol-parameters', c.protocolParameters),
    ah
      ? el('ah-algorithms', ...c.algorithms.map((a) => leaf('integrity', a)))
      : el('esp-algorithms', ...c.algorithms.map((a) => leaf('suite', a))),
    tunnel(c.tunnel),
    lifetime('sa-lifetime-soft', c.saLifetimeSoft),
    lifetime('sa-lifetime-hard', c.saLifetimeHard),
    opt('offload', c.offload),
    opt('negotiation-shunt', c.negotiationShunt),
    opt('nat-traversal', c.natTraversal),
  );
}

function policyConfig(c: IpsecPolicyConfigDoc): Node {
  return el(
    'ipsec-policy-config',
    opt('anti-replay-window-size', c.antiReplayWindowSize),
    ...c.trafficSelectors.map(trafficSelector),
    el('processing-info', leaf('action', c.action), c.ipsecSaCfg && saCfg(c.ipsecSaCfg)),
  );
}

function spdEntry(e: SpdEntryDoc | ConnSpdEntryDoc): Node {
  return el(
    'spd-entry',
    leaf('name', e.name),
    'direction' in e && leaf('direction', e.direction),
    opt('reqid', e.reqid),
    opt('priority', e.priority),
    policyConfig(e.config),
  );
}

function key(name: string, k: KeyDoc | undefined): Node | undefined {
  if (!k) return undefined;
  return el(name, 'hex' in k ? leaf('key', k.hex) : leaf('key-ref', k.ref));
}

function sadEntry(e: SadEntryDoc): Node {
  const ah = e.protocolParameters === 'ah';
  return el(
    'sad-entry',
    leaf('name', e.name),
    opt('reqid', e.reqid),
    el(
      'ipsec-sa-config',
      leaf('spi', spiText(e.spi)),
      leaf('direction', e.direction),
      opt('ext-seq-num', e.extSeqNum),
      opt('anti-replay-window-size', e.antiReplayWindowSize),
      e.trafficSelector && trafficSelector(e.trafficSelector),
      opt('protocol-parameters', e.protocolParameters),
      opt('mode', e.mode),
      ah
        ? el('ah-sa', leaf('suite', e.suite), key('integrity', e.integrityKey))
        : el('esp-sa', leaf('suite', e.suite), key('encryption', e.encryptionKey), key('integrity', e.integrityKey)),
      lifetime('sa-lifetime-soft', e.saLifetimeSoft),
      lifetime('sa-lifetime-hard', e.saLifetimeHard),
      tunnel(e.tunnel),
      e.natT && el('encapsulation-type', leaf('espencap', 'espinudp'), leaf('sport', e.natT.srcPort), leaf('dport', e.natT.dstPort)),
    ),
    e.seqNumberCounter !== undefined && el('ipsec-sa-state', leaf('seq-number-counter', e.seqNumberCounter)),
  );
}

function padEntry(e: PadEntryDoc): Node {
  return el(
    'pad-entry',
    leaf('name', e.name),
    leaf(e.identity.kind, e.identity.value),
    el('peer-authentication', leaf('auth-method', e.authMethod), el('pre-shared', leaf('key-ref', e.keyRef))),
  );
}

function connEntry(c: ConnEntryDoc): Node {
  const soft = c.rekeyTime !== undefined || c.reauthTime !== undefined;
  return el(
    'conn-entry',
    leaf('name', c.name),
    opt('autostartup', c.autostartup),
    opt('version', c.version),
    ...c.ikeProposals.map((p) => leaf('ike-proposal', p)),
    soft && el('ike-sa-lifetime-soft', opt('rekey-time', c.rekeyTime), opt('reauth-time', c.reauthTime)),
    c.overTime !== undefined && el('ike-sa-lifetime-hard', leaf('over-time', c.overTime)),
    el('local', leaf('local-address', c.local.address), leaf('local-pad-entry-name', c.local.padEntryName)),
    el('remote', leaf('remote-address', c.remote.address), leaf('remote-pad-entry-name', c.remote.padEntryName)),
    c.spiRange && el('spi-range', leaf('start', spiText(c.spiRange.start)), leaf('end', spiText(c.spiRange.end))),
    c.spd.length > 0 && el('spd', ...c.spd.map(spdEntry)),
  );
}

/**
 * The canonical XML text of a document (UTF-8 declaration, trailing newline). The document
 * is expected to be valid, as `parsePolicyXml` returns it; comments are not kept.
 *
 * @example
 * await writeFile(path, serializePolicyXml(doc));
 */
export function serializePolicyXml(doc: PolicyDocument): string {
  const root = el(
    'ipsec-policy',
    opt('default-action', doc.defaultAction),
    (doc.spd.length > 0 || doc.sad.length > 0) &&
      el(
        'ipsec-ikeless',
        doc.spd.length > 0 && el('spd', ...doc.spd.map(spdEntry)),
        doc.sad.length > 0 && el('sad', ...doc.sad.map(sadEntry)),
      ),
    (doc.pad.length > 0 || doc.connections.length > 0) &&
      el('ipsec-ike', doc.pad.length > 0 && el('pad', ...doc.pad.map(padEntry)), ...doc.connections.map(connEntry)),
  );
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  write(root, '', out, ` xmlns="${POLICY_NAMESPACE}"`);
  return `${out.join('\n')}\n`;
}
