// Start-up of the sluice command: CPU (user + sys of the child) and wall time of `sluice run` on a
// one-record job and on jobs/hello.yaml (20 records), and of `sluice validate`, for this build
// against another (SLUICE_BENCH_BEFORE_BIN=…/packages/cli/dist/bin.js, e.g. a checkout of the
// commit before), in interleaved pairs (the order alternates), medians of the paired ratios.
// Each is started as users start it: the bin executed directly (its shebang's node flags).
// `node -e ''` runs beside them as the floor.
//
// Usage: SLUICE_BENCH_BEFORE_BIN=/path/bin.js node bench/startup.mjs [--pairs N] [--name NAME]   (default 15 pairs;
//   writes bench/results/NAME.json/.md, default startup)
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BIN, commit, DATA, machine, median, RESULTS, ROOT, sluiceCommand, timedChild } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const PAIRS = Number(argv.includes('--pairs') ? argv[argv.indexOf('--pairs') + 1] : 15);
const NAME = argv.includes('--name') ? argv[argv.indexOf('--name') + 1] : 'startup';
const BEFORE = process.env.SLUICE_BENCH_BEFORE_BIN;
if (!BEFORE) {
  console.error('set SLUICE_BENCH_BEFORE_BIN to the bin.js of the build to compare with');
  process.exit(2);
}

const WORK = join(DATA, 'startup');
mkdirSync(join(WORK, 'data'), { recursive: true });
copyFileSync(join(ROOT, 'jobs/hello.yaml'), join(WORK, 'hello.yaml'));
cpSync(join(ROOT, 'jobs/data'), join(WORK, 'data'), { recursive: true });
writeFileSync(join(WORK, 'one.jsonl'), '{"id":1}\n');
writeFileSync(join(WORK, 'tiny.yaml'), 'version: 1\nname: tiny\nsource:\n  use: file\n  with: { path: one.jsonl }\nsink:\n  use: file\n  with: { path: out/tiny.jsonl }\n');

const CASES = [
  { id: 'run tiny', args: ['run', 'tiny.yaml', '--fresh', '--progress', 'none'] },
  { id: 'run hello', args: ['run', 'hello.yaml', '--fresh', '--progress', 'none'] },
  { id: 'validate hello', args: ['validate', 'hello.yaml'] },
];
const builds = [
  { id: 'before', bin: BEFORE },
  { id: 'after', bin: BIN },
];
const runs = Object.fromEntries(CASES.map((c) => [c.id, { before: [], after: [] }]));
const floor = [];
const loads = [];
for (let pair = 0; pair < PAIRS; pair++) {
  loads.push(loadavg()[0]);
  floor.push(await timedChild(process.execPath, ['-e', ''], { cwd: WORK }));
  for (const c of CASES) {
    for (const b of pair % 2 ? [...builds].reverse() : builds) {
      const r = await timedChild(...sluiceCommand(c.args, { bin: b.bin }), { cwd: WORK });
      runs[c.id][b.id].push(r);
    }
  }
  process.stdout.write(`pair ${pair + 1}/${PAIRS}\r`);
}

const fmt = (x, d = 3) => x.toFixed(d);
const rows = CASES.map((c) => {
  const { before, after } = runs[c.id];
  const cpu = (r) => r.cpuSeconds;
  return {
    case: c.id,
    before: { cpu: median(before.map(cpu)), wall: median(before.map((r) => r.seconds)), rssMB: median(before.map((r) => r.rssMB)) },
    after: { cpu: median(after.map(cpu)), wall: median(after.map((r) => r.seconds)), rssMB: median(after.map((r) => r.rssMB)) },
    cpuRatio: median(after.map((r, i) => cpu(r) / cpu(before[i]))),
    wallRatio: median(after.map((r, i) => r.seconds / before[i].seconds)),
  };
});
const nodeFloor = { cpu: median(floor.map((r) => r.cpuSeconds)), wall: median(floor.map((r) => r.seconds)), rssMB: median(floor.map((r) => r.rssMB)) };
const markdown = [
  `## Start-up: ${PAIRS} interleaved pairs`,
  '',
  `This build ${commit()} against ${BEFORE}; ${new Date().toISOString()}; 1-minute load ${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)} (2 cores).`,
  '',
  '| command | CPU before | CPU after | CPU after ÷ before (median of pairs) | wall before | wall after | wall ratio | peak RSS before → after |',
  '|---|--:|--:|--:|--:|--:|--:|--:|',
  ...rows.map((r) => `| sluice ${r.case} | ${fmt(r.before.cpu)} s | ${fmt(r.after.cpu)} s | ${fmt(r.cpuRatio)} | ${fmt(r.before.wall)} s | ${fmt(r.after.wall)} s | ${fmt(r.wallRatio)} | ${r.before.rssMB} → ${r.after.rssMB} MB |`),
  `| node -e '' (floor) | ${fmt(nodeFloor.cpu)} s | | | ${fmt(nodeFloor.wall)} s | | | ${nodeFloor.rssMB} MB |`,
  '',
].join('\n');
console.log(markdown);
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, `${NAME}.json`), `${JSON.stringify({ pairs: PAIRS, before: BEFORE, machine: machine(), commit: commit(), loads, rows, nodeFloor }, null, 2)}\n`);
writeFileSync(join(RESULTS, `${NAME}.md`), markdown);
