// Distributed runs (issue 8): one CPU-heavy job run three ways, round by round in one script —
//   local   `sluice run job.yaml` (the baseline)
//   1 worker  `sluice run job.yaml --workers URL` with one `sluice worker` process
//   2 workers the same with two worker processes
// Targets (docs/benchmarks.md): 2 workers ≥ 1.6× as fast as 1 worker; the coordinator path with one
// worker costs ≤ 10% against the local run. Workers are long-lived services, so they are started
// (and have said they are waiting for partitions) before the clock starts; the clock covers the
// coordinator command. Every run's output (one file, or one per partition) is verified before any
// figure is printed: the multiset of records, with the hash each must carry, against a digest
// computed here without the plugin. A wrong output stops the script (exit 1, no ratio). The 1-minute
// load average is recorded at the start of each run.
//
// Usage: node bench/distributed.mjs [--records 150000] [--hash-rounds 80] [--runs 3] [--partitions 8]
//                                   [--redis redis://127.0.0.1:6379] [--json FILE]
// Needs a build (npm run setup) and Redis.
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { sluiceCommand } from './sql-lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '150000' },
    'hash-rounds': { type: 'string', default: '80' },
    runs: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '8' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    json: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);
const URL = values.redis;
const TARGETS = { speedup: 1.6, overhead: 0.1 };

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-dist-'));
const lines = [];
for (let id = 1; id <= RECORDS; id++) lines.push(JSON.stringify({ id, name: `user ${id}`, amount: id % 100 }));
writeFileSync(join(dir, 'data.jsonl'), `${lines.join('\n')}\n`);
writeFileSync(
  join(dir, 'job.yaml'),
  `version: 1
name: bench-distributed
plugins:
  - ${JSON.stringify(join(ROOT, 'bench/plugins/burn.mjs'))}
batch: { size: 1000 }
source:
  use: file
  with: { path: data.jsonl }
steps:
  - use: burn
    with: { rounds: ${Number(values['hash-rounds'])} }
sink:
  use: file
  with: { path: out/records.jsonl }
`,
);

const redis = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();

async function dropKeys(prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

// Coordinator and workers sign and check partitions with the same key, as in production.
const randomQueueKey = randomBytes(32).toString('hex');

function start(args) {
  const child = spawn(...sluiceCommand(args, { bin: CLI }), { cwd: dir, env: { ...process.env, SLUICE_QUEUE_KEY: randomQueueKey }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return { child, output: () => output };
}

async function timed(args) {
  loads.push(loadavg()[0]);
  const started = performance.now();
  const { child, output } = start(args);
  const [code] = await once(child, 'exit');
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${code}:\n${output()}`);
  return seconds;
}

/** 1-minute load average at the start of every timed run. */
const loads = [];

/** Sorted, hashed `id name amount hash` of every record: the same digest for the same multiset. */
function digest(rows) {
  rows.sort();
  const hash = createHash('sha256');
  for (const row of rows) hash.update(`${row}\n`);
  return { count: rows.length, sha256: hash.digest('hex') };
}

/** What every run must write: each input record with `rounds` chained SHA-256 of its id. */
function expectedDigest() {
  const rows = [];
  for (let id = 1; id <= RECORDS; id++) {
    let hash = String(id);
    for (let i = 0; i < Number(values['hash-rounds']); i++) hash = createHash('sha256').update(hash).digest('hex');
    rows.push(`${id}\tuser ${id}\t${id % 100}\t${hash}`);
  }
  return digest(rows);
}

/** The digest of everything under out/ (the local run's one file, or one file per partition). */
function outputDigest() {
  const out = join(dir, 'out');
  const rows = [];
  for (const name of readdirSync(out)) {
    for (const line of readFileSync(join(out, name), 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      rows.push(`${r.id}\t${r.name}\t${r.amount}\t${r.hash}`);
    }
  }
  return digest(rows);
}

process.stderr.write(`computing the expected output of ${RECORDS} records … `);
const EXPECTED = expectedDigest();
process.stderr.write(`sha256 ${EXPECTED.sha256.slice(0, 16)}…\n`);

function verify(what) {
  const seen = outputDigest();
  if (seen.count !== EXPECTED.count || seen.sha256 !== EXPECTED.sha256) {
    throw new Error(`${what} wrote a wrong output: ${seen.count} records (expected ${EXPECTED.count}), sha256 ${seen.sha256.slice(0, 16)}… (expected ${EXPECTED.sha256.slice(0, 16)}…); no figures`);
  }
}

/** Resolves once the worker says it is waiting for partitions (connected and ready). */
async function ready(worker) {
  const deadline = performance.now() + 60_000;
  while (!worker.output().includes('waiting for partitions')) {
    if (worker.child.exitCode !== null || performance.now() > deadline) throw new Error(`worker not ready:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function local() {
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  const seconds = await timed(['run', 'job.yaml', '--fresh', '--progress', 'none']);
  verify('the local run');
  return seconds;
}

async function distributed(workers, round) {
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  const prefix = `sluice-bench-${process.pid}-${round}-${workers}`;
  const procs = Array.from({ length: workers }, () => start(['worker', '--queue', URL, '--prefix', prefix]));
  try {
    await Promise.all(procs.map(ready));
    const seconds = await timed(['run', 'job.yaml', '--workers', URL, '--prefix', prefix, '--partitions', values.partitions, '--fresh', '--progress', 'none']);
    verify(`the ${workers}-worker run`);
    return seconds;
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => (p.child.exitCode === null && p.child.signalCode === null ? once(p.child, 'exit') : undefined)));
    await dropKeys(prefix);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rounds = [];
let failed;
try {
  for (let round = 1; round <= RUNS; round++) {
    // Rotate the order each round so drift in the machine's speed does not always favour one contender.
    const order = [['local'], ['one'], ['two']];
    for (let i = 1; i < round; i++) order.push(order.shift());
    const r = {};
    for (const [which] of order) {
      r[which] = which === 'local' ? await local() : await distributed(which === 'one' ? 1 : 2, round);
    }
    rounds.push(r);
    process.stderr.write(`round ${round}: local ${r.local.toFixed(2)} s · 1 worker ${r.one.toFixed(2)} s · 2 workers ${r.two.toFixed(2)} s (load ${loads.slice(-3).map((l) => l.toFixed(1)).join(', ')}; outputs verified)\n`);
  }
} catch (error) {
  failed = error;
} finally {
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
if (failed) {
  process.stderr.write(`\nbenchmark failed: ${failed.message}\n`);
  process.exit(1);
}

const speedup = median(rounds.map((r) => r.one / r.two));
const overhead = median(rounds.map((r) => r.one / r.local)) - 1;
const result = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg(), loadAtRuns: { min: Math.min(...loads), max: Math.max(...loads) } },
  verified: { records: EXPECTED.count, sha256: EXPECTED.sha256 },
  records: RECORDS,
  hashRounds: Number(values['hash-rounds']),
  partitions: Number(values.partitions),
  rounds,
  median: { local: median(rounds.map((r) => r.local)), one: median(rounds.map((r) => r.one)), two: median(rounds.map((r) => r.two)) },
  speedup,
  overhead,
  pass: { speedup: speedup >= TARGETS.speedup, overhead: overhead <= TARGETS.overhead },
};
const fmt = (s) => `${s.toFixed(2)} s`;
process.stdout.write(
  [
    `distributed benchmark: ${RECORDS} records × ${result.hashRounds} SHA-256 rounds, ${result.partitions} partitions, ${RUNS} rounds (${cpus().length} cores)`,
    `  local run            ${fmt(result.median.local)} (median)`,
    `  coordinator+1 worker ${fmt(result.median.one)}`,
    `  coordinator+2 workers ${fmt(result.median.two)}`,
    `  ${result.pass.speedup ? 'PASS' : 'FAIL'}  speed-up 2 workers vs 1: ${speedup.toFixed(2)}×   target ≥ ${TARGETS.speedup}×`,
    `  ${result.pass.overhead ? 'PASS' : 'FAIL'}  coordinator overhead (1 worker vs local): ${(overhead * 100).toFixed(1)}%   target ≤ ${TARGETS.overhead * 100}%`,
    `  (ratios: median of per-round ratios; every output verified, sha256 ${EXPECTED.sha256.slice(0, 16)}…; 1-minute load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} at the runs)`,
  ].join('\n') + '\n',
);
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
