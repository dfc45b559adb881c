/**
 * The docs cannot drift: docs/events.md has a section for every fact type in engine/events and
 * names every field of its data (read from the TypeScript types), and nothing else; docs/cli.md
 * holds every command's --help word for word (and the command prints exactly that).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, topHelp } from '../../cli/commands/index.js';
import { replayCommand } from '../../cli/commands/replayCommands.js';
import { ROOT, runCliSync } from '../cli/cliRunner.js';
import { factCatalogue } from './factCatalogue.js';

const doc = (name: string) => readFileSync(join(ROOT, 'docs', name), 'utf8');

describe('docs', () => {
  it('events.md: one section per fact type, every field of its data listed, no fact that does not exist', () => {
    const text = doc('events.md');
    const sections = new Map(text.split(/^### /m).slice(1).map((s) => [s.slice(0, s.indexOf('\n')).trim(), s]));
    const facts = factCatalogue();
    expect(facts.length).toBeGreaterThan(30);
    expect([...sections.keys()].sort()).toEqual(facts.map((f) => f.type).sort());
    for (const f of facts) {
      const section = sections.get(f.type)!;
      const documented = [...section.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
      expect(documented, f.type).toEqual(f.fields.map((x) => x.name));
    }
  });

  it('cli.md: the top-level help and every command\'s --help, verbatim; the command prints the same', () => {
    const text = doc('cli.md');
    expect(text).toContain(topHelp());
    for (const c of COMMANDS) expect(text, c.name).toContain(`\`\`\`\n${c.help}\n\`\`\``);
    expect(runCliSync(['replay', '--help']).stdout).toBe(`${replayCommand.help}\n`);
    expect(runCliSync(['--help']).stdout).toBe(`${topHelp()}\n`);
  });

  it('every docs page links only to files that exist', () => {
    for (const page of ['architecture.md', 'operations.md', 'events.md', 'cli.md']) {
      for (const [, target] of doc(page).matchAll(/\]\((?!https?:)([^)#]+)/g)) expect(() => readFileSync(join(ROOT, 'docs', target!)), `${page} → ${target}`).not.toThrow();
    }
  });
});
