// Where the CPU of a CSV → SQLite upsert goes, thread by thread, for this build and an older one,
// beside `sqlite3 .import`, in interleaved rounds. Since the SQLite writer thread (issue 12), the
// main thread parses and binds while the writer thread runs SQLite: on an idle machine with two
// cores the wall time tends to the busier of the two, not their sum. On a shared machine wall
// figures mean little, so this prints each thread's CPU (user + sys from /proc/PID/task/TID/stat,
// polled every 20 ms until the child exits) and the ratio of `.import`'s CPU to the busier thread.
// Usage: SLUICE_BENCH_BEFORE=/path/to/older/packages/cli/dist/bin.js node bench/sql-sqlite-threads.mjs [ROWS] [ROUNDS]
// (without SLUICE_BENCH_BEFORE only this build runs). Every table is checked against `.import`'s.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BIN, DATA, dataFiles, median, ROOT, sluiceJob } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const Database = require('better-sqlite3');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const DIR = join(DATA, 'sqlite-threads');
const DDL = 'create table t (id integer primary key, email text, name text, country text, amount real, created_at text)';

function freshFile(name) {
  const file = join(DIR, `${name}.db`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  execFileSync('sqlite3', [file, DDL]);
  return file;
}

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

/** Runs a command; `{ wall, total, main, others: [busiest other threads' CPU] }` in seconds. */
function threadsOf(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const cpu = new Map();
    const poll = () => {
      try {
        for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
          const stat = readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          cpu.set(tid, (Number(f[11]) + Number(f[12])) / 100);
        }
      } catch {
        // The child (or a thread) ended between two looks; its last figures stay.
      }
    };
    const timer = setInterval(poll, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${err.slice(-2000)}`));
      const wall = (performance.now() - t0) / 1000;
      const main = cpu.get(String(child.pid)) ?? 0;
      const others = [...cpu].filter(([tid]) => tid !== String(child.pid)).map(([, s]) => s).sort((a, b) => b - a);
      resolve({ wall, total: main + others.reduce((a, b) => a + b, 0), main, others: others.slice(0, 2) });
    });
  });
}

async function main() {
  const { csv } = dataFiles(ROWS);
  mkdirSync(DIR, { recursive: true });
  const reference = freshFile('reference');
  execFileSync('sqlite3', [reference, `.import --csv --skip 1 ${csv} t`]);
  const expected = fingerprint(reference);
  const builds = [['after', BIN], ...(process.env.SLUICE_BENCH_BEFORE ? [['before', process.env.SLUICE_BENCH_BEFORE]] : [])];
  const runs = { import: [] };
  for (const [name] of builds) runs[name] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order of the builds round by round, `.import` first.
    const order = round % 2 ? builds : [...builds].reverse();
    const file = freshFile('import');
    const imp = await threadsOf('sqlite3', [file, `.import --csv --skip 1 ${csv} t`]);
    runs.import.push(imp);
    process.stdout.write(`round ${round} import: wall ${imp.wall.toFixed(2)} s, cpu ${imp.total.toFixed(2)} s (load ${loadavg()[0].toFixed(1)})\n`);
    for (const [name, bin] of order) {
      const db = freshFile(name);
      const job = sluiceJob(`threads-${name}`, {
        connection: `{ client: better-sqlite3, url: "${db}" }`,
        source: `{ path: ${csv} }`,
        sink: '{ connection: db, table: t, mode: upsert, key: id }',
      });
      const r = await threadsOf(process.execPath, [bin, 'run', job, '--fresh', '--progress', 'none']);
      const got = fingerprint(db);
      if (got !== expected) throw new Error(`${name}: the table differs from .import's (${got}, expected ${expected})`);
      r.busiest = Math.max(r.main, ...r.others);
      r.ratio = imp.total / r.busiest;
      runs[name].push(r);
      process.stdout.write(
        `round ${round} ${name}: wall ${r.wall.toFixed(2)} s, cpu ${r.total.toFixed(2)} s (main ${r.main.toFixed(2)}, next threads ${r.others.map((s) => s.toFixed(2)).join(', ')}); ` +
          `.import cpu / busiest thread ${r.ratio.toFixed(2)}, verified (load ${loadavg()[0].toFixed(1)})\n`,
      );
    }
  }
  const summary = {};
  for (const [name, list] of Object.entries(runs)) {
    summary[name] = { wall: median(list.map((r) => r.wall)), cpu: median(list.map((r) => r.total)) };
    if (name !== 'import') Object.assign(summary[name], { main: median(list.map((r) => r.main)), busiest: median(list.map((r) => r.busiest)), importCpuOverBusiest: median(list.map((r) => r.ratio)) });
  }
  process.stdout.write(`${JSON.stringify({ rows: ROWS, rounds: ROUNDS, medians: summary }, null, 1)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
