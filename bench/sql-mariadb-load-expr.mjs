// Server CPU of LOAD DATA LOCAL INFILE variants for a raw page's created_at column: the CPU time of
// the MariaDB thread serving this connection (/proc/<mariadbd>/task/<tid>/stat; MariaDB runs one
// thread per connection, found by a CPU-burning query), per load of the first ROWS rows of the
// benchmark's CSV into a fresh table, variants alternating over rounds.
//   plain    created_at = left(@v, 23)                 (no check: a floor, not exact)
//   general  dateTimeExpression without its first branch (every …Z form, the day checked)
//   shipped  dateTimeExpression as built (the toISOString form first)
// Usage: node bench/sql-mariadb-load-expr.mjs [ROWS] [ROUNDS]   (default 300,000 rows, 3 rounds; needs a build).
import { execFileSync } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DATA, dataFiles, ROOT } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const mysql = require('mysql2');
const { dateTimeExpression } = await import(join(ROOT, 'packages/plugins/sql/dist/load-raw-mysql.js'));
const ROWS = Number(process.argv[2] ?? 300_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const DB = 'sluice_bench_load_expr';
const PID = execFileSync('pgrep', ['-o', 'mariadbd'], { encoding: 'utf8' }).trim();

const taskCpu = (tid) => {
  const stat = readFileSync(`/proc/${PID}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const allTasks = () => new Map(readdirSync(`/proc/${PID}/task`).map((t) => [t, (() => { try { return taskCpu(t); } catch { return 0; } })()]));

const { csv } = dataFiles(1_000_000);
const part = join(DATA, `load-expr-${ROWS}.csv`);
writeFileSync(part, `${readFileSync(csv, 'utf8').split('\n').slice(1, ROWS + 1).join('\n')}\n`);

const c = mysql.createConnection({ host: '127.0.0.1', user: 'root', charset: 'utf8mb4' });
const q = (sql, opts = {}) => new Promise((res, rej) => c.query({ sql, ...opts }, (e, r) => (e ? rej(e) : res(r))));
await q(`drop database if exists ${DB}`);
await q(`create database ${DB} character set utf8mb4`);
await q(`use ${DB}`);
await q("SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')");
const before = allTasks();
await q('select benchmark(30000000, md5(1))');
let tid;
let best = -1;
for (const [t, cpu] of allTasks()) if (cpu - (before.get(t) ?? 0) > best) [tid, best] = [t, cpu - (before.get(t) ?? 0)];

const v = '@v';
const shipped = dateTimeExpression(v);
// The shipped expression is `if(<toISOString form>, concat(…), GENERAL)`: GENERAL cut out of it.
const general = shipped.slice(shipped.indexOf(', concat(') + 2).replace(/^concat\(left\(@v, 10\), ' ', substr\(@v, 12, 12\)\), /, '').slice(0, -1);
const head = `load data local infile 'x' into table t character set utf8mb4 fields terminated by ',' optionally enclosed by '"' escaped by '' lines terminated by '\\n' (id, email, name, country, amount, @v) set created_at = `;
const variants = { plain: `left(${v}, 23)`, general, shipped };
const cpu = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, expr] of Object.entries(variants)) {
    await q('drop table if exists t');
    await q('create table t (id bigint primary key, email varchar(100), name varchar(100), country char(2), amount decimal(12,2), created_at datetime(3))');
    const c0 = taskCpu(tid);
    const out = await q(head + expr, { infileStreamFactory: () => createReadStream(part) });
    cpu[name].push(Number((taskCpu(tid) - c0).toFixed(2)));
    if (out.warningStatus || out.affectedRows !== ROWS) throw new Error(`${name}: ${out.affectedRows} rows, ${out.warningStatus} warnings`);
  }
}
await q(`drop database ${DB}`);
c.end();
process.stdout.write(`server thread CPU (s) per load of ${ROWS} rows: ${JSON.stringify(cpu)}\n`);
