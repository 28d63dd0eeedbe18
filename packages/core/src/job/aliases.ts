// YAML aliases are checked before the document becomes a value: a few lines of nested aliases
// (a "billion laughs") would otherwise expand into gigabytes, and an alias inside its own anchor
// into a cycle that nothing downstream can walk.
import { isAlias, isCollection, isPair, visit, type Alias, type Document, type Node } from 'yaml';

/** Values that aliases may add to a job in total. A real job file needs a few hundred at most. */
export const MAX_ALIAS_EXPANSION = 10_000;

export interface AliasProblem {
  /** Offset of the alias in the text. */
  readonly offset: number;
  readonly message: string;
  readonly hint: string;
}

/** The first alias that is unresolved, cyclic, or makes the aliases expand past the cap. */
export function checkAliases(doc: Document.Parsed): AliasProblem | undefined {
  // One pass in document order: an alias means the last anchor of its name before it.
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  const aliases: Alias[] = [];
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        targets.set(node, anchors.get(node.source));
        aliases.push(node);
      } else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  if (aliases.length === 0) return undefined;

  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let cyclic: { alias: Alias } | undefined;
  /** Values a node stands for once its aliases are expanded; Infinity past the cap or in a cycle. */
  const sizeOf = (node: unknown): number => {
    if (isPair(node)) return sizeOf(node.key) + sizeOf(node.value);
    if (node === null || typeof node !== 'object') return 0;
    const n = node as Node;
    const known = sizes.get(n);
    if (known !== undefined) return known;
    let size: number;
    if (isAlias(n)) {
      const target = targets.get(n);
      if (target === undefined) return 0;
      if (open.has(target)) {
        cyclic ??= { alias: n };
        return Infinity;
      }
      size = sizeOf(target);
    } else {
      open.add(n);
      size = 1;
      if (isCollection(n)) for (const item of n.items) if ((size += sizeOf(item)) > MAX_ALIAS_EXPANSION) break;
      open.delete(n);
    }
    sizes.set(n, size);
    return size;
  };

  let total = 0;
  for (const alias of aliases) {
    const offset = alias.range?.[0] ?? 0;
    if (targets.get(alias) === undefined) {
      return {
        offset,
        message: `invalid YAML: alias *${alias.source} has no anchor &${alias.source} before it`,
        hint: `define the value with &${alias.source} before the first *${alias.source}, or write it out`,
      };
    }
    total += sizeOf(alias);
    if (cyclic) {
      return {
        offset: cyclic.alias.range?.[0] ?? offset,
        message: `invalid YAML: alias *${cyclic.alias.source} is inside its own anchor &${cyclic.alias.source}, so its value would contain itself`,
        hint: 'write the value out instead of referring to the value that contains it',
      };
    }
    if (total > MAX_ALIAS_EXPANSION) {
      return {
        offset,
        message: `invalid YAML: aliases expand to more than ${MAX_ALIAS_EXPANSION} values (nested aliases multiply)`,
        hint: 'a job file needs far fewer; write the values out or alias smaller pieces',
      };
    }
  }
  return undefined;
}
