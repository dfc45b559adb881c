/**
 * Loads XML policy files from disk (engine/policy does the parsing, purely). A load gives a
 * whole valid policy set or a `PolicyFileError` listing every problem as `file:line:col: rule`;
 * a reload swaps the whole set or keeps the previous one: nothing is ever half-loaded.
 */
import { readFile } from 'node:fs/promises';
import { IpsecError } from '../../engine/errors.js';
import type { PolicyDocument, PolicyError } from '../../engine/policy/model.js';
import { formatPolicyErrors, parsePolicyXml } from '../../engine/policy/parsePolicyXml.js';
import { toPolicies, toStaticSas, type StaticSaSpec } from '../../engine/policy/toPolicies.js';
import type { DefaultAction, Policy } from '../../engine/spd/types.js';
import { DEFAULT_SPD_ACTION } from '../../engine/spd/types.js';
import { validatePolicies } from '../../engine/spd/validate.js';

/**
 * A policy file that cannot be used: unreadable, malformed or breaking a rule. `errors` has
 * each problem with its position (line and column 0 when the file could not be read at all).
 *
 * @example
 * try { await loadPolicyFile('gw.xml'); } catch (e) { if (e instanceof PolicyFileError) console.error(e.message); }
 */
export class PolicyFileError extends IpsecError {
  constructor(
    readonly errors: readonly PolicyError[],
    options?: { cause?: unknown },
  ) {
    const lines = errors.map((e) => (e.line === 0 ? `${e.file}: ${e.rule}` : formatPolicyErrors([e])));
    const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
    super('config.invalid', `invalid policy file (${count}):\n${lines.join('\n')}`, options);
    this.name = 'PolicyFileError';
  }
}

/** Everything one policy file yields, converted and checked. */
export interface LoadedPolicyFile {
  readonly path: string;
  readonly doc: PolicyDocument;
  /** SPD entries in file order (engine/spd types). */
  readonly policies: Policy[];
  /** Static SAs of `<sad>`; key references still to resolve. */
  readonly staticSas: StaticSaSpec[];
  readonly defaultAction: DefaultAction;
}

/** How the loader reads a file; `node:fs/promises` `readFile` unless a test gives another. */
export type ReadText = (path: string) => Promise<string>;

const readUtf8: ReadText = (path) => readFile(path, 'utf8');

/**
 * Parses and converts `text` as the policy file `path`; throws `PolicyFileError`.
 *
 * @example
 * const loaded = policyFromText(xml, 'inline.xml');
 */
export function policyFromText(text: string, path: string): LoadedPolicyFile {
  const result = parsePolicyXml(text, path);
  if (!result.ok) throw new PolicyFileError(result.errors);
  const { doc } = result;
  try {
    const policies = toPolicies(doc);
    validatePolicies(policies);
    return { path, doc, policies, staticSas: toStaticSas(doc), defaultAction: doc.defaultAction ?? DEFAULT_SPD_ACTION };
  } catch (err) {
    // A parsed document always converts; this is a bug, reported as the file's problem anyway.
    const rule = `cannot convert the document: ${err instanceof Error ? err.message : String(err)}`;
    throw new PolicyFileError([{ file: path, line: 0, column: 0, rule }], { cause: err });
  }
}

/**
 * Reads, parses and converts one policy file. Throws `PolicyFileError` (code
 * `'config.invalid'`) when it cannot be read or is not valid; never a vendor error.
 *
 * @example
 * const { policies, staticSas } = await loadPolicyFile('/etc/ipsec-es/site.xml');
 */
export async function loadPolicyFile(path: string, read: ReadText = readUtf8): Promise<LoadedPolicyFile> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
    throw new PolicyFileError([{ file: path, line: 0, column: 0, rule: `cannot read the policy file (${reason})` }], { cause: err });
  }
  return policyFromText(text, path);
}

export type ReloadResult = { ok: true; loaded: LoadedPolicyFile } | { ok: false; error: PolicyFileError };

/**
 * One policy file, reloadable: `reload()` reads it again and either replaces `current` with
 * the whole new set or leaves `current` as it was and returns the error. Reloads run one at a
 * time in call order, so a slow old read never overwrites a newer one.
 *
 * @example
 * const source = new PolicyFileSource('/etc/ipsec-es/site.xml');
 * const r = await source.reload();
 * if (!r.ok) log.warn(r.error.message); // still running on source.current
 */
export class PolicyFileSource {
  #current: LoadedPolicyFile | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly read: ReadText = readUtf8,
  ) {}

  /** The last set that loaded whole; undefined before the first successful load. */
  get current(): LoadedPolicyFile | undefined {
    return this.#current;
  }

  reload(): Promise<ReloadResult> {
    const next = this.#queue.then(async (): Promise<ReloadResult> => {
      try {
        const loaded = await loadPolicyFile(this.path, this.read);
        this.#current = loaded;
        return { ok: true, loaded };
      } catch (err) {
        if (err instanceof PolicyFileError) return { ok: false, error: err };
        throw err;
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
