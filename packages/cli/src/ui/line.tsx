import { Text } from 'ink';
import { truncate } from '../render/format.js';

export interface Part {
  readonly text: string;
  readonly color?: string;
  readonly bold?: boolean;
  readonly dim?: boolean;
}

/**
 * One line of styled parts, cut to `width` here rather than by Ink: Ink's own truncation adds a
 * non-ASCII ellipsis, and measuring a line with one costs a hundred times more on every repaint.
 */
export function Line({ parts, width }: { parts: readonly Part[]; width: number }) {
  const cut = truncate(parts.map((p) => p.text).join(''), width);
  // The cut text is a prefix of the whole (its end replaced by the ellipsis): slice it back into the parts.
  const shown: Part[] = [];
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (at >= cut.length) break;
    const text = i === parts.length - 1 ? cut.slice(at) : cut.slice(at, at + part.text.length);
    shown.push({ ...part, text });
    at += text.length;
  }
  return (
    <Text>
      {shown.map((p, i) =>
        p.color || p.bold || p.dim ? (
          <Text key={i} {...(p.color ? { color: p.color } : {})} bold={p.bold === true} dimColor={p.dim === true}>
            {p.text}
          </Text>
        ) : (
          p.text
        ),
      )}
    </Text>
  );
}
