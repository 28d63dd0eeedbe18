
/** One column of a text table. */
export interface Column<R> {
  readonly title: string;
  readonly align: 'left' | 'right';
  /** 0 is never dropped; higher numbers go first when the table is too wide. */
  readonly priority: number;
  /** Takes the room that is left, cut with an ellipsis (at least `min` characters). */
  readonly flex?: boolean;
  readonly min?: number;
  readonly cell: (row: R) => string;
  /** A shorter text for a flexible column's cell when the full one would be cut. */
  readonly short?: (row: R) => string;
}

export interface TableLayout<R> {
  readonly columns: ReadonlyArray<Column<R> & { readonly width: number }>;
  /** Cells per row, already padded to their column's width. */
  readonly header: string[];
  readonly rows: string[][];
  /** Whole lines: cells joined by `gap`. */
  readonly lines: string[];
}

/**
 * Lays out rows in at most `maxWidth` characters: each column as wide as its widest cell, and
 * when that is too wide, the flexible column shrinks and then low-priority columns are dropped.
 */
export function layoutTable<R>(columns: ReadonlyArray<Column<R>>, rows: readonly R[], maxWidth: number, gap = '  '): TableLayout<R> {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const natural = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  let keep = columns.map((_, i) => i);
  const widthOf = (idx: number[]) =>
    idx.reduce((sum, i) => sum + (columns[i]!.flex ? Math.min(natural[i]!, columns[i]!.min ?? natural[i]!) : natural[i]!), 0) + gap.length * (idx.length - 1);
  while (keep.length > 1 && widthOf(keep) > maxWidth) {
    const worst = keep.reduce((w, i) => (columns[i]!.priority > columns[w]!.priority || (columns[i]!.priority === columns[w]!.priority && i > w) ? i : w), keep[0]!);
    if (columns[worst]!.priority === 0) break;
    keep = keep.filter((i) => i !== worst);
  }
  const fixed = keep.reduce((sum, i) => sum + (columns[i]!.flex ? 0 : natural[i]!), 0) + gap.length * (keep.length - 1);
  const widths = keep.map((i) => (columns[i]!.flex ? Math.max(Math.min(natural[i]!, maxWidth - fixed), columns[i]!.min ?? 1) : natural[i]!));
  const pad = (text: string, k: number) => {
    const c = columns[keep[k]!]!;
    const t = truncate(text, widths[k]!);
    return c.align === 'right' ? t.padStart(widths[k]!) : t.padEnd(widths[k]!);
  };
  const header = keep.map((i, k) => pad(columns[i]!.title, k));
  const body = cells.map((row, r) =>
    keep.map((i, k) => {
      const short = columns[i]!.short;
      return pad(short && row[i]!.length > widths[k]! ? short(rows[r]!) : row[i]!, k);
    }),
  );
  return {
    columns: keep.map((i, k) => ({ ...columns[i]!, width: widths[k]! })),
    header,
    rows: body,
    lines: [header, ...body].map((r) => r.join(gap)),
  };
}

/**
 * `text` cut to `width` characters, ending in `...` when something was cut. ASCII on purpose: the
 * screen measures every line, and a line with one non-ASCII character costs a hundred times more.
 */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width <= 3 ? text.slice(0, width) : `${text.slice(0, width - 3)}...`;
}
