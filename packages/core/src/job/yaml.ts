import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { checkAliases } from './aliases.js';
import type { Diagnostic } from './diagnostics.js';
import { yamlDiagnostics, type PlaceOf } from './yaml-errors.js';

export interface NodePosition {
  /** Absolute offset of the value's first character. */
  readonly offset: number;
  /** Offset of the key, for map entries (where "unknown key" errors point). */
  readonly keyOffset?: number;
  /** Chars between `offset` and the value's text (1 for quoted scalars). */
  readonly quote: number;
}

/** A parsed YAML file: the plain value, and where each JSON-pointer path sits in the text. */
export interface PositionedYaml {
  readonly value: unknown;
  readonly positions: Map<string, NodePosition>;
  readonly lines: LineCounter;
  readonly diagnostics: Diagnostic[];
}

/**
 * Parses a job file. `placeOf` tells which places hold expressions and templates, so a YAML error
 * there can say to quote them.
 */
export function parseYaml(text: string, file: string, placeOf?: PlaceOf): PositionedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const diagnostics = yamlDiagnostics(doc, text, lines, file, placeOf);
  const positions = new Map<string, NodePosition>();
  if (diagnostics.some((d) => d.severity === 'error')) return { value: undefined, positions, lines, diagnostics };
  const aliasProblem = checkAliases(doc);
  if (aliasProblem) {
    const pos = lines.linePos(aliasProblem.offset);
    diagnostics.push({ severity: 'error', file, line: pos.line, col: pos.col, path: '', message: aliasProblem.message, hint: aliasProblem.hint });
    return { value: undefined, positions, lines, diagnostics };
  }
  walk(doc.contents as Node | null, '', undefined, positions);
  // checkAliases bounded the expansion already; the library's own count would refuse legitimate reuse.
  const value = doc.toJS({ maxAliasCount: -1 });
  return { value, positions, lines, diagnostics };
}

function walk(node: Node | null | undefined, pointer: string, keyOffset: number | undefined, out: Map<string, NodePosition>) {
  if (!node) return;
  const start = node.range?.[0] ?? keyOffset ?? 0;
  const quote = isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') ? 1 : 0;
  out.set(pointer, { offset: start, keyOffset, quote });
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const kOff = (pair.key as Node | null)?.range?.[0];
      const child = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (pair.value) walk(pair.value as Node, child, kOff, out);
      else out.set(child, { offset: kOff ?? start, keyOffset: kOff, quote: 0 });
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => walk(item as Node, `${pointer}/${index}`, undefined, out));
  }
}

/** The position for `pointer`, or the nearest ancestor that has one. */
export function locate(
  yaml: Pick<PositionedYaml, 'positions' | 'lines'>,
  pointer: string,
  options: { key?: boolean; extra?: number } = {},
): { line: number; col: number } {
  let p = pointer;
  for (;;) {
    const pos = yaml.positions.get(p);
    if (pos) {
      const offset =
        options.key && pos.keyOffset !== undefined
          ? pos.keyOffset
          : pos.offset + (options.extra !== undefined ? pos.quote + options.extra : 0);
      const lc = yaml.lines.linePos(offset);
      return { line: lc.line, col: lc.col };
    }
    if (!p) return { line: 1, col: 1 };
    p = p.slice(0, p.lastIndexOf('/'));
  }
}
