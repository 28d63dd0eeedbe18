// Where the fixed CPU cost of `--metrics` goes, piece by piece, in fresh processes:
//   node bench/metrics-overhead-open.mjs [--runs N] [--before DIR] [--out FILE]
//
// 1. Opening the metrics as `sluice run --metrics` does (each piece timed with process.cpuUsage in a
//    fresh `node`): importing registry.js, SluiceMetrics.create(), importing server.js, listening,
//    the first scrape, a second one. With --before DIR (a built checkout of an earlier commit) its
//    build and this one alternate, run by run.
// 2. prom-client's modules that opening and scraping load, two ways in alternating fresh
//    processes: one `require` per module, as prom.ts and process-metrics.ts do, and one esbuild
//    bundle of the same modules (what a bundling build step would save; esbuild is vitest's, found
//    in node_modules/.pnpm). The default collectors are run into a registry in both.
// Medians of N runs (20) per row; the 1-minute load average is recorded.
// Writes bench/results/metrics-overhead-open.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const RUNS = Number(option('--runs', 20));
const BEFORE = option('--before', undefined);
const RESULTS = option('--out', 'bench/results/metrics-overhead-open.md');
const TMP = join(ROOT, 'bench/.data');
mkdirSync(TMP, { recursive: true });
const load = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const node = (args) => JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));

const CPU = `const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const t = {}; let c = cpu();
const mark = (name) => { const n = cpu(); t[name] = n - c; c = n; };`;

const openScript = (dist) => `${CPU}
const { SluiceMetrics } = await import(${JSON.stringify(join(dist, 'metrics/registry.js'))}); mark('import registry.js');
const metrics = await SluiceMetrics.create(); mark('SluiceMetrics.create()');
const { serveMetrics } = await import(${JSON.stringify(join(dist, 'metrics/server.js'))}); mark('import server.js');
const served = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 }); mark('listen');
await metrics.text(); mark('first scrape');
await metrics.text(); mark('second scrape');
served.server.close();
console.log(JSON.stringify(t));`;

// prom-client's modules as prom.ts and process-metrics.ts load them (prom-client 15's paths).
const MODULES = ['registry', 'counter', 'gauge', ...['processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'eventLoopLag', 'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version', 'gc'].map((m) => `metrics/${m}`)];
const promFrom = join(ROOT, 'packages/cli/dist/metrics/prom.js');
const entry = join(TMP, 'metrics-open-entry.cjs');
writeFileSync(entry, `module.exports = [${MODULES.map((m) => `require(${JSON.stringify(`prom-client/lib/${m}`)})`).join(', ')}];\n`);
const loadScript = (how) => `${CPU}
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(promFrom)});
const mods = ${how === 'bundle' ? `require(${JSON.stringify(join(TMP, 'metrics-open-bundle.cjs'))})` : `${JSON.stringify(MODULES)}.map((m) => require('prom-client/lib/' + m))`};
mark('load');
const registry = new mods[0]();
for (const collect of mods.slice(3)) collect(registry, { eventLoopMonitoringPrecision: 100 });
await registry.metrics(); mark('collectors and a scrape');
console.log(JSON.stringify(t));`;

const esbuildDir = readdirSync(join(ROOT, 'node_modules/.pnpm')).find((d) => /^esbuild@/.test(d));
if (esbuildDir) {
  const esbuild = join(ROOT, 'node_modules/.pnpm', esbuildDir, 'node_modules/esbuild/bin/esbuild');
  // Resolved from prom.js's folder, as prom.ts resolves them.
  writeFileSync(join(ROOT, 'packages/cli/dist/metrics/.open-entry.cjs'), readFileSync(entry));
  execFileSync(esbuild, [join(ROOT, 'packages/cli/dist/metrics/.open-entry.cjs'), '--bundle', '--platform=node', '--format=cjs', `--outfile=${join(TMP, 'metrics-open-bundle.cjs')}`, '--log-level=warning']);
  execFileSync('rm', ['-f', join(ROOT, 'packages/cli/dist/metrics/.open-entry.cjs')]);
}

const builds = [['this build', join(ROOT, 'packages/cli/dist')], ...(BEFORE ? [[`before (${BEFORE})`, join(BEFORE, 'packages/cli/dist')]] : [])];
const loads = [['one require per module', 'modules'], ...(esbuildDir ? [['one esbuild bundle', 'bundle']] : [])];
const open = new Map(builds.map(([name]) => [name, []]));
const loading = new Map(loads.map(([name]) => [name, []]));
const loadAvg = [];
for (let i = 0; i < RUNS; i++) {
  loadAvg.push(load());
  // Alternating, first one then the other first.
  for (const [name, dist] of i % 2 ? [...builds].reverse() : builds) open.get(name).push(node(['--input-type=module', '-e', openScript(dist)]));
  for (const [name, how] of i % 2 ? [...loads].reverse() : loads) loading.get(name).push(node(['--input-type=module', '-e', loadScript(how)]));
}

const table = (rows) => {
  const keys = Object.keys(rows.values().next().value[0]);
  const out = [`| | ${keys.join(' | ')} | sum |`, `|---|${keys.map(() => '--:').join('|')}|--:|`];
  for (const [name, runs] of rows) out.push(`| ${name} | ${keys.map((k) => median(runs.map((r) => r[k])).toFixed(1)).join(' | ')} | ${median(runs.map((r) => keys.reduce((s, k) => s + r[k], 0))).toFixed(1)} |`);
  return out;
};
const lines = [
  '# --metrics: where the fixed CPU cost goes, in fresh processes',
  '',
  `Generated by \`node bench/metrics-overhead-open.mjs --runs ${RUNS}${BEFORE ? ` --before ${BEFORE}` : ''}\` on ${new Date().toISOString().slice(0, 16)}Z; load (1 min) ${Math.min(...loadAvg).toFixed(1)}–${Math.max(...loadAvg).toFixed(1)}.`,
  'CPU ms (user + sys, process.cpuUsage around each step), medians of the runs; the sum is the median of each run\'s sum.',
  'A fresh `node` pays for its ESM loader here too, which a `sluice run` has already paid: the import rows are upper bounds.',
  '',
  '## Opening the metrics as `sluice run --metrics` does, then two scrapes',
  '',
  ...table(open),
  '',
  '## prom-client\'s modules (registry, counter, gauge, the 12 default collectors), loaded and run once',
  '',
  ...(esbuildDir ? table(loading) : ['esbuild not found: only one way measured.', '', ...table(loading)]),
];
const text = `${lines.join('\n')}\n`;
writeFileSync(resolve(ROOT, RESULTS), text);
process.stdout.write(text);
