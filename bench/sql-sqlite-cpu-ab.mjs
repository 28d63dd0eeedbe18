// CPU of two builds on bench/sql-sqlite.mjs's job (1M CSV rows upserted by id into a fresh SQLite
// file), in alternating pairs: each run's user+sys (wait4, /usr/bin/time) and its threads' CPU
// (/proc/PID/task/TID/stat, polled every 20 ms: the main thread, the two busiest others — the
// SQLite writer thread first — and the rest, V8's GC helpers and libuv). Every table is checked
// against the other build's (row count and an ordered md5 of every value with its type).
// Usage: node bench/sql-sqlite-cpu-ab.mjs --a BUILD_A --b BUILD_B [--pairs 5] [--rows 1000000]
// (BUILD: a checkout's root, built). Prints each run, the medians and the median of the per-pair
// ratios b/a. On a shared machine wall figures are noise; the load is printed beside each run.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DATA, dataFiles, median, ROOT } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const Database = require('better-sqlite3');
const arg = (name, fallback) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback);
const A = arg('a');
const B = arg('b');
const PAIRS = Number(arg('pairs', 5));
const ROWS = Number(arg('rows', 1_000_000));
if (!A || !B) throw new Error('usage: node bench/sql-sqlite-cpu-ab.mjs --a BUILD_A --b BUILD_B [--pairs 5] [--rows 1000000]');
const DIR = join(DATA, 'sqlite-cpu-ab');
const DDL = 'create table t (id integer primary key, email text, name text, country text, amount real, created_at text)';

function fingerprint(file) {
  const db = new Database(file, { readonly: true });
  const hash = createHash('md5');
  let n = 0;
  for (const row of db.prepare("select quote(id) || '|' || quote(email) || '|' || quote(name) || '|' || quote(country) || '|' || quote(amount) || '|' || quote(created_at) from t order by id").pluck().iterate()) {
    hash.update(`${row}\n`);
    n++;
  }
  db.close();
  return `${n}:${hash.digest('hex')}`;
}

/** One run of `root`'s CLI on a fresh file: wall, cpu (user+sys), peak RSS, threads' CPU, fingerprint. */
function run(root, name, csv) {
  const db = join(DIR, `${name}.db`);
  for (const s of ['', '-wal', '-shm', '-journal']) rmSync(db + s, { force: true });
  execFileSync('sqlite3', [db, DDL]);
  const job = join(DIR, `${name}.yaml`);
  writeFileSync(job, `version: 1\nname: cpu-ab-${name}\nconnections:\n  db: { client: better-sqlite3, url: "${db}" }\nsource:\n  use: file\n  with: { path: ${csv} }\nsink:\n  use: sql\n  with: { connection: db, table: t, mode: upsert, key: id }\n`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', process.execPath, join(root, 'packages/cli/dist/bin.js'), 'run', job, '--fresh', '--progress', 'none'], { stdio: ['ignore', 'ignore', 'pipe'], cwd: DIR });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const cpu = new Map();
    let pid;
    const poll = () => {
      try {
        pid ??= readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0] || undefined;
        if (!pid) return;
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          cpu.set(tid, (Number(f[11]) + Number(f[12])) / 100);
        }
      } catch {
        // The process (or a thread) ended between two looks; its last figures stay.
      }
    };
    const timer = setInterval(poll, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`${name} exited ${code}\n${err.slice(-2000)}`));
      const [user, sys, rss] = err.trim().split('\n').pop().split(' ').map(Number);
      const others = [...cpu].filter(([tid]) => tid !== pid).map(([, s]) => s).sort((x, y) => y - x);
      const round = (x) => Math.round(x * 100) / 100;
      resolve({
        wall: round((performance.now() - t0) / 1000),
        cpu: round(user + sys),
        rssMB: Math.round(rss / 1024),
        main: cpu.get(pid) ?? 0,
        writer: others[0] ?? 0,
        next: others[1] ?? 0,
        rest: round(others.slice(2).reduce((x, y) => x + y, 0)),
        fingerprint: fingerprint(db),
      });
    });
  });
}

async function main() {
  const { csv } = dataFiles(ROWS);
  mkdirSync(DIR, { recursive: true });
  const runs = { a: [], b: [] };
  const ratios = [];
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 ? ['b', 'a'] : ['a', 'b'];
    const pair = {};
    for (const name of order) {
      pair[name] = await run(name === 'a' ? A : B, name, csv);
      const { fingerprint: _, ...shown } = pair[name];
      process.stdout.write(`pair ${i + 1} ${name}: ${JSON.stringify(shown)} load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    }
    if (pair.a.fingerprint !== pair.b.fingerprint) throw new Error(`the tables differ: a ${pair.a.fingerprint}, b ${pair.b.fingerprint}`);
    runs.a.push(pair.a);
    runs.b.push(pair.b);
    ratios.push(pair.b.cpu / pair.a.cpu);
  }
  const m = (name, key) => median(runs[name].map((r) => r[key]));
  for (const key of ['cpu', 'main', 'writer', 'next', 'rest', 'wall', 'rssMB']) process.stdout.write(`median ${key}: a ${m('a', key)}, b ${m('b', key)}\n`);
  process.stdout.write(`cpu b/a per pair: ${ratios.map((r) => r.toFixed(3)).join(' ')}; median ${median(ratios).toFixed(3)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
