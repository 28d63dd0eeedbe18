// Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, by total
// (inclusive) time, and self time per file.
// Usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `packages/core/dist/engine/pipeline.js`, `node:internal/…`, or a native marker such as `(garbage collector)`. */
export function shortUrl(url) {
  if (!url) return '';
  if (url.startsWith('file://')) {
    const rel = relative(root, fileURLToPath(url));
    return rel.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
  }
  return url;
}

export function summarise(profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map(); // node id → µs
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0; // delta before the next sample: time spent in this one
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const keyOf = (n) => {
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    const url = shortUrl(f.url);
    return url ? `${url}:${f.lineNumber + 1} ${name}` : name;
  };
  const selfBy = new Map();
  const totalBy = new Map();
  const fileBy = new Map();
  let all = 0;
  for (const [id, us] of self) {
    all += us;
    const node = byId.get(id);
    const key = keyOf(node);
    selfBy.set(key, (selfBy.get(key) ?? 0) + us);
    const file = shortUrl(node.callFrame.url) || node.callFrame.functionName;
    fileBy.set(file, (fileBy.get(file) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      totalBy.set(k, (totalBy.get(k) ?? 0) + us);
    }
  }
  const rank = (m, skip) =>
    [...m]
      .filter(([k]) => !skip?.(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ ms: us / 1000, pct: (100 * us) / all, what: k }));
  return {
    totalMs: all / 1000,
    self: rank(selfBy),
    total: rank(totalBy, (k) => k.startsWith('(root)') || k.startsWith('(program)')),
    files: rank(fileBy),
  };
}

export function formatSummary(s) {
  const rows = (list) => list.map((r) => `  ${r.ms.toFixed(0).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.what}`).join('\n');
  return (
    `sampled ${s.totalMs.toFixed(0)} ms\n` +
    `top self time:\n${rows(s.self)}\n` +
    `top total (inclusive) time:\n${rows(s.total)}\n` +
    `self time per file:\n${rows(s.files)}\n`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20;
  if (!file) {
    console.error('usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarise(JSON.parse(readFileSync(file, 'utf8')), top)));
}
