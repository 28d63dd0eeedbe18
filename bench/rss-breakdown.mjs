// Where a sluice run's peak RSS goes: `node bench/rss-breakdown.mjs [--rows N]`. Each workload of
// issue 12's RSS target runs once as a child `sluice run` (default settings, as its own bench runs
// it) with bench/rss-sampler.mjs loaded (`node --import`), which samples process.memoryUsage()
// every 10 ms. At the sample of highest RSS it splits RSS into the V8 heap of the main thread
// (heapTotal: the young generation's semi-spaces and the old generation as V8 sized them, used or
// not), memory outside that heap held by JS objects (external: Buffers, ArrayBuffers), and the rest
// (node and its libraries, compiled code, worker threads' heaps, allocator caches). /usr/bin/time's
// peak RSS is printed next to it. RSS does not depend on the machine's load the way time does,
// so one run each is enough. Results: bench/results/rss-breakdown.md (and .json).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureRecords, SLUICE_STEPS } from './generate.mjs';
import { commit, DATA, dataFiles, pgBenchDatabase, RESULTS, ROOT, sluiceCommand, sluiceJob } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const ROWS = Number(argv.includes('--rows') ? argv[argv.indexOf('--rows') + 1] : 1_000_000);
const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const Database = require('better-sqlite3');
const DIR = join(DATA, 'rss');
mkdirSync(DIR, { recursive: true });

/** A job with the file source and the file sink (the file workloads). */
function fileJob(name, source, steps = '') {
  const file = join(DIR, `${name}.yaml`);
  writeFileSync(file, `version: 1\nname: ${name}\nsource:\n  use: file\n  with: ${source}\n${steps}sink:\n  use: file\n  with: { path: ${join(DIR, `${name}.out.jsonl`)} }\n`);
  return file;
}

function measure(label, job) {
  const out = join(DIR, 'sample.json');
  const time = join(DIR, 'time.txt');
  rmSync(out, { force: true });
  const [cmd, args] = sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { nodeFlags: ['--import', join(ROOT, 'bench/rss-sampler.mjs')] });
  const run = spawnSync('/usr/bin/time', ['-f', '%M', '-o', time, cmd, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SLUICE_RSS_OUT: out } });
  if (run.status !== 0) throw new Error(`${label}: exit ${run.status}\n${run.stderr.slice(-2000)}`);
  const mb = (bytes) => Math.round(bytes / 1048576);
  const { atPeak, most } = JSON.parse(readFileSync(out, 'utf8'));
  const row = {
    label,
    peakRssMB: Math.round(Number(readFileSync(time, 'utf8').trim().split('\n').at(-1)) / 1024),
    sampledRssMB: mb(atPeak.rss),
    heapTotalMB: mb(atPeak.heapTotal),
    heapUsedMB: mb(atPeak.heapUsed),
    externalMB: mb(atPeak.external),
    arrayBuffersMB: mb(atPeak.arrayBuffers),
    restMB: mb(atPeak.rss - atPeak.heapTotal - atPeak.external),
    mostHeapTotalMB: mb(most.heapTotal),
    mostExternalMB: mb(most.external),
    load: loadavg()[0],
  };
  console.log(JSON.stringify(row));
  return row;
}

const { csv, jsonl } = dataFiles(ROWS);
const records = ensureRecords(DATA, ROWS, (text) => process.stdout.write(text)).file;
const tiny = join(DIR, 'tiny.csv');
writeFileSync(tiny, 'id,name\n1,a\n2,b\n3,c\n');
const rows = [];
rows.push(measure('start-up floor: 3-row CSV → JSON Lines file', fileJob('rss-tiny', `{ path: ${tiny} }`)));
rows.push(measure('CSV → JSON Lines file (`cast: true`)', fileJob('rss-csv-jsonl', `{ path: ${csv}, csv: { cast: true } }`)));
rows.push(measure('JSON Lines filter + map → JSON Lines', fileJob('rss-map-filter', `{ path: ${records}, format: jsonl }`, SLUICE_STEPS)));

const pg = await pgBenchDatabase(knexFactory, process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test', 'sluice_bench_rss', csv, ROWS);
const pgJob = (name, source, sink) => sluiceJob(name, { connection: `{ client: pg, url: "${pg.url}" }`, source, sink });
await pg.fresh('t_csv')();
rows.push(measure('CSV → PostgreSQL insert (raw pages)', pgJob('rss-pg-csv', `{ path: ${csv} }`, '{ connection: db, table: t_csv }')));
await pg.fresh('t_jsonl')();
rows.push(measure('JSON Lines → PostgreSQL insert', pgJob('rss-pg-jsonl', `{ path: ${jsonl} }`, '{ connection: db, table: t_jsonl }')));
rows.push(measure('CSV → PostgreSQL upsert (full table)', pgJob('rss-pg-upsert', `{ path: ${csv} }`, '{ connection: db, table: t_csv, mode: upsert, key: id }')));
await pg.knex.destroy();
execFileSync('psql', ['postgres://postgres@127.0.0.1:5432/test', '-qc', 'drop database if exists sluice_bench_rss with (force)']);

const sqliteFile = join(DIR, 'rss.db');
for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${sqliteFile}${suffix}`, { force: true });
const db = new Database(sqliteFile);
db.exec('create table t (id integer primary key, email text, name text, country text, amount real, created_at text)');
db.close();
rows.push(measure('CSV → SQLite upsert (writer thread)', sluiceJob('rss-sqlite', { connection: `{ client: better-sqlite3, url: "${sqliteFile}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t, mode: upsert, key: id }' })));

const date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const md = [
  '# Where peak RSS goes',
  '',
  `\`node bench/rss-breakdown.mjs --rows ${ROWS}\` on ${date}, commit ${commit()}, Node ${process.version}. One run per workload, default job settings; MB = MiB.`,
  'Columns at the sample of highest RSS (process.memoryUsage() every 10 ms): heap total = the main thread\'s V8 heap as sized (semi-spaces + old generation, used or not); heap used = live and not-yet-collected objects in it; external = memory JS objects hold outside the heap (Buffers); rest = RSS − heap total − external (node itself, its libraries and compiled code, worker threads\' heaps, allocator caches). Peak RSS = `/usr/bin/time -f %M` (between samples it can be a little higher).',
  '',
  '| workload | peak RSS | sampled RSS | heap total | heap used | external (of it ArrayBuffers) | rest | load |',
  '|---|--:|--:|--:|--:|--:|--:|--:|',
  ...rows.map((r) => `| ${r.label} | ${r.peakRssMB} | ${r.sampledRssMB} | ${r.heapTotalMB} | ${r.heapUsedMB} | ${r.externalMB} (${r.arrayBuffersMB}) | ${r.restMB} | ${r.load.toFixed(1)} |`),
  '',
];
writeFileSync(join(RESULTS, 'rss-breakdown.md'), md.join('\n'));
writeFileSync(join(RESULTS, 'rss-breakdown.json'), `${JSON.stringify({ date, commit: commit(), rows: ROWS, runs: rows }, null, 2)}\n`);
console.log(md.join('\n'));
