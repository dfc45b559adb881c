/**
 * Every persisted fact type and its data fields, read from the TypeScript types in
 * engine/events (the source of truth), for the test that keeps docs/events.md in step.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../cli/cliRunner.js';

export interface FactDoc {
  type: string;
  /** The union it belongs to: SaFact, PolicyFact, AcquireFact, IkeFact, NicFact. */
  union: string;
  fields: Array<{ name: string; optional: boolean; type: string }>;
}

/** @example for (const f of factCatalogue()) console.log(f.type, f.fields.map((x) => x.name)); */
export function factCatalogue(): FactDoc[] {
  const files = ['saFacts.ts', 'otherFacts.ts'].map((f) => join(ROOT, 'engine/events', f));
  const program = ts.createProgram(files, { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const out: FactDoc[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    ts.forEachChild(source, (node) => {
      if (!ts.isTypeAliasDeclaration(node) || !/Fact$/.test(node.name.text) || !ts.isUnionTypeNode(node.type)) return;
      for (const member of node.type.types) {
        if (!ts.isTypeReferenceNode(member) || member.typeArguments?.length !== 2) continue;
        const [name, data] = member.typeArguments as unknown as [ts.TypeNode, ts.TypeNode];
        const type = checker.getTypeFromTypeNode(name);
        if (!type.isStringLiteral()) continue;
        const dataType = checker.getTypeFromTypeNode(data);
        const fields = checker.getPropertiesOfType(dataType).map((p) => ({
          name: p.name,
          optional: (p.flags & ts.SymbolFlags.Optional) !== 0,
          type: checker.typeToString(checker.getTypeOfSymbolAtLocation(p, data)),
        }));
        out.push({ type: type.value, union: node.name.text, fields });
      }
    });
  }
  return out;
}
