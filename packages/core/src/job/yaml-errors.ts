// YAML errors said once, and said in terms of expressions when that is what broke the YAML: an
// unquoted `record.a > 1 ? 'x' : 'y'` is a nested mapping to YAML, and one such line otherwise
// yields a cascade of parser messages that never mention quoting.
import { isCollection, isMap, isScalar, type Document, type LineCounter, type Node, type Pair, type YAMLError } from 'yaml';
import { lowerFirst } from '../expr/parse.js';
import { displayPath, type Diagnostic } from './diagnostics.js';
import type { PlaceKind } from './places.js';

/** Whether a pointer is an expression or template place, given the (partial) document. */
export type PlaceOf = (pointer: string, doc: Document.Parsed) => PlaceKind | undefined;

interface Place {
  readonly pointer: string;
  readonly kind: PlaceKind;
  /** Offset of the key, and whether it sits in a flow mapping (`{ where: … }`). */
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly flow: boolean;
}

/**
 * Diagnostics for a document's YAML errors and warnings: the first error, plus one per further
 * expression it broke; the parser's follow-on errors are dropped, since they only echo the first.
 */
export function yamlDiagnostics(doc: Document.Parsed, text: string, lines: LineCounter, file: string, placeOf?: PlaceOf): Diagnostic[] {
  const out: Diagnostic[] = [];
  const reported = new Set<string>();
  const errors = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]);
  for (const [index, error] of errors.entries()) {
    const place = placeOf ? placeAt(doc, error.pos[0], lines, placeOf) : undefined;
    if (place) {
      if (reported.has(place.pointer)) continue;
      reported.add(place.pointer);
      out.push(unquoted(place, error, text, lines, file));
    } else if (index === 0) {
      out.push(plain('error', error, lines, file));
    }
  }
  for (const warning of doc.warnings) {
    const place = placeOf ? placeAt(doc, warning.pos[0], lines, placeOf) : undefined;
    // `where: !record.ok` is a YAML tag, not a negation: the expression would silently be empty.
    if (place && warning.code === 'TAG_RESOLVE_FAILED') {
      if (!reported.has(place.pointer)) out.push(unquoted(place, warning, text, lines, file));
      reported.add(place.pointer);
    } else out.push(plain('warning', warning, lines, file));
  }
  return out;
}

function plain(severity: Diagnostic['severity'], error: YAMLError, lines: LineCounter, file: string): Diagnostic {
  const pos = lines.linePos(error.pos[0]);
  return { severity, file, line: pos.line, col: pos.col, path: '', message: `invalid YAML: ${firstLine(error.message)}` };
}

function unquoted(place: Place, error: YAMLError, text: string, lines: LineCounter, file: string): Diagnostic {
  const afterKey = text.slice(place.keyEnd).match(/^\s*:[ \t]*/);
  const valueStart = place.keyEnd + (afterKey?.[0].length ?? 0);
  const pos = lines.linePos(valueStart);
  const key = text.slice(place.keyStart, place.keyEnd);
  const lineEnd = text.indexOf('\n', valueStart);
  const written = text.slice(valueStart, lineEnd === -1 ? undefined : lineEnd).trimEnd();
  const what = place.kind === 'expression' ? 'the expression' : 'the template';
  // Only a block value that ends with its line can be quoted for the user; in `{ … }` its end is unknown.
  const example = !place.flow && written !== '' ? `${key}: ${quote(written)}` : `${key}: "…"`;
  return {
    severity: 'error',
    file,
    line: pos.line,
    col: pos.col,
    path: displayPath(place.pointer),
    message: `${what} must be quoted: unquoted, YAML reads it as its own syntax (${lowerFirst(firstLine(error.message))})`,
    hint: `write ${example}`,
  };
}

/** A YAML double-quoted scalar for `text`, or single-quoted when that needs no escapes. */
function quote(text: string): string {
  if (text.includes('"') && !text.includes("'")) return `'${text}'`;
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The outermost expression or template place whose key or value holds `offset`. */
function placeAt(doc: Document.Parsed, offset: number, lines: LineCounter, placeOf: PlaceOf): Place | undefined {
  const line = lines.linePos(offset).line;
  let node = doc.contents as Node | null;
  let pointer = '';
  while (node && isCollection(node)) {
    let next: Node | null = null;
    if (isMap(node)) {
      let match: Pair | undefined;
      for (const pair of node.items) {
        const start = (pair.key as Node | null)?.range?.[0];
        if (start === undefined || start > offset) break;
        match = pair;
      }
      const keyNode = match?.key as Node | null | undefined;
      if (!match || !keyNode?.range) return undefined;
      const value = match.value as Node | null;
      const end = value?.range?.[1] ?? keyNode.range[1];
      // Past the pair's value and on another line: the error belongs to something after it.
      if (offset > end && lines.linePos(end).line !== line) return undefined;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      pointer += `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      const kind = placeOf(pointer, doc);
      if (kind) return { pointer, kind, keyStart: keyNode.range[0], keyEnd: keyNode.range[1], flow: Boolean(node.flow) };
      next = value;
    } else {
      const items = node.items as Array<Node | null>;
      const index = items.findIndex((item) => item?.range && item.range[0] <= offset && offset <= item.range[1]);
      if (index === -1) return undefined;
      pointer += `/${index}`;
      next = items[index]!;
    }
    node = next;
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
