/**
 * The `rel="next"` target of an RFC 8288 `Link` header, resolved against `base`; undefined when
 * there is none.
 */
export function nextLink(header: string | string[] | undefined, base: URL): URL | undefined {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const value of values) {
    const pattern = /<([^>]*)>((?:\s*;\s*[^;,]*(?:"[^"]*")?)*)/g;
    for (let match = pattern.exec(value); match; match = pattern.exec(value)) {
      const params = match[2] ?? '';
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
      const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) {
        try {
          return new URL(match[1]!, base);
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}
