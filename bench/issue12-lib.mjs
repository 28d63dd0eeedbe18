// docs/benchmarks-issue12.md: every target of issue 12 beside the figure its script last measured,
// read from the results files the scripts write (bench/results/*.json), with the date, commit and
// load of that measurement. Written by bench/all.mjs; `node bench/issue12-lib.mjs` re-renders it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, pairedRatio, RESULTS, ROOT, summary } from './sql-lib.mjs';

const read = (name) => {
  const file = join(RESULTS, name);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const x = (v) => (v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(2)}×`);
const mb = (v) => (v === undefined ? '—' : `${Math.round(v)} MB`);
const met = (ok) => (ok === undefined ? 'no figure' : ok ? 'yes' : '**no**');
/** The 1-minute load over a script's rounds, as "lo–hi". */
const span = (loads) => {
  const l = loads.filter((v) => Number.isFinite(v));
  return l.length ? `${Math.min(...l).toFixed(1)}–${Math.max(...l).toFixed(1)}` : '—';
};
const roundLoads = (rounds) => rounds.flatMap((r) => [r.load.before, r.load.after].map((s) => Number(String(s).split(' ')[0])));

/** Rows `{ workload, target, figure, ok, load, when }` from every results file present. */
function targetRows() {
  const rows = [];
  for (const [name, workload] of [
    ['sql-postgres.json', 'PostgreSQL (bench/sql.mjs)'],
    ['sql-mariadb.json', 'MariaDB (bench/sql-mariadb.mjs)'],
    ['sql-sqlite.json', 'SQLite (bench/sql-sqlite.mjs)'],
  ]) {
    const r = read(name);
    if (!r) continue;
    const when = `${r.date}, ${r.commit}, ${r.rows.toLocaleString('en-US')} rows × ${r.rounds.length} rounds`;
    const load = span(roundLoads(r.rounds));
    for (const t of r.targets) rows.push({ workload, target: `${t.label} ≥ ${t.min}×`, figure: x(t.ratio?.median), ok: t.ratio ? t.ratio.median >= t.min : undefined, load, when });
    const rss = r.contenders.filter((c) => c.sluice && c.summary.ok).map((c) => c.summary.rssMB);
    if (rss.length) rows.push({ workload, target: 'peak RSS of every sluice run ≤ 128 MB', figure: mb(Math.max(...rss)), ok: Math.max(...rss) <= 128, load, when });
  }
  const csv = read('file-2-csv-to-jsonl.json');
  if (csv) {
    const workload = 'CSV → JSON Lines (bench/csv-to-jsonl.mjs)';
    const when = `${csv.date.slice(0, 16).replace('T', ' ')} UTC, ${csv.commit}, ${csv.rows.toLocaleString('en-US')} rows × ${csv.rounds.length} rounds`;
    const load = span(roundLoads(csv.rounds));
    for (const [peer, min] of [['node loop', 0.8], ['miller', 1.2]]) {
      const ratio = pairedRatio(csv.rounds, 'sluice', peer);
      rows.push({ workload, target: `≥ ${min}× ${peer === 'miller' ? '`mlr --icsv --ojsonl cat`' : 'the hand-written Node loop'}`, figure: x(ratio?.median), ok: ratio ? ratio.median >= min : undefined, load, when });
    }
    const s = summary(csv.rounds, 'sluice');
    rows.push({ workload, target: 'peak RSS ≤ 128 MB', figure: s.ok ? mb(s.rssMB) : '—', ok: s.ok ? s.rssMB <= 128 : undefined, load, when });
  }
  const mf = read('jsonl-map-filter.json');
  if (mf) {
    const workload = 'JSON Lines map/filter (bench/jsonl-map-filter.mjs)';
    const when = `${mf.when} UTC, ${mf.git}, ${mf.records.toLocaleString('en-US')} records × ${mf.rounds} rounds`;
    const s = mf.rows.find((r) => r.id === 'sluice');
    const load = span(mf.rows.flatMap((r) => r.loads));
    rows.push({ workload, target: '≥ 0.85× the hand-written Node stream', figure: x(s?.ratio), ok: s ? s.ratio >= 0.85 : undefined, load, when });
    rows.push({ workload, target: 'peak RSS ≤ 128 MB', figure: mb(s?.maxRssMb), ok: s ? s.maxRssMb <= 128 : undefined, load, when });
  }
  // burn hashes through node:crypto (its OpenSSL digests contend across the threads of one
  // process); churn is plain JavaScript. Both are CPU-bound transforms; both rows are shown.
  for (const [file, kind] of [['threads.json', 'node:crypto SHA-256 (burn)'], ['threads-churn.json', 'plain JavaScript (churn)']]) {
    const th = read(file);
    if (!th) continue;
    const when = `${th.records.toLocaleString('en-US')} records × ${th.hashRounds} rounds of ${kind}, ${th.rounds.length} runs${th.date ? `, ${th.date}` : ''}`;
    // The ceiling: two separate one-thread processes on half the records each, at once (what the machine's two vCPUs give).
    const figure = th.ceiling === undefined ? x(th.speedup) : `${x(th.speedup)} (two processes: ${x(th.ceiling)})`;
    rows.push({ workload: `CPU-bound transform, ${kind} (bench/threads.mjs)`, target: '`--threads 2` ≥ 1.8× `--threads 1`', figure, ok: th.speedup >= th.target, load: span(th.rounds.flatMap((r) => r.load)), when });
  }
  const rl = read('ratelimit.json');
  if (!rl) rows.push({ workload: 'rateLimit (bench/ratelimit.mjs)', target: '100/s, 2,000/s, 20,000/s within ±3 %', figure: '—', ok: undefined, load: '—', when: 'no bench/results/ratelimit.json yet (see bench/results/ratelimit.md)' });
  if (rl) {
    for (const rate of [...new Set(rl.rows.map((r) => r.rate))]) {
      const rs = rl.rows.filter((r) => r.rate === rate);
      const off = median(rs.map((r) => r.delivered)) / rate - 1;
      // `densest` counts the times the limiter granted (its promise); `densestSeen`, which older
      // results lack, the times callers read right after (a descheduled process shows there).
      const densest = Math.max(...rs.map((r) => r.densest));
      const seen = rs.some((r) => r.densestSeen !== undefined) ? `; seen by callers ${Math.max(...rs.map((r) => r.densestSeen ?? 0))}, lag ≤ ${Math.max(...rs.map((r) => r.lagMs ?? 0))} ms` : '';
      rows.push({
        workload: 'rateLimit (bench/ratelimit.mjs)',
        target: `${rate}/s within ±3 %, no second over ${rate + 1}`,
        figure: `${(off * 100).toFixed(2)} %, densest second ${densest}${seen}`,
        ok: Math.abs(off) <= 0.03 && densest <= rate + 1,
        load: span(rs.map((r) => r.load)),
        when: `${rl.date}, ${rl.seconds} s × ${rl.rounds} rounds`,
      });
    }
  }
  return rows;
}

export function renderIssue12() {
  const all = read('all.json');
  const rows = targetRows();
  const lines = [
    '# Issue 12 targets: the latest figures',
    '',
    '<!-- Generated by bench/all.mjs (node bench/issue12-lib.mjs re-renders) from bench/results/*.json; do not edit. -->',
    '',
    'Every target of issue 12 with the figure its script last measured, read from the results files.',
    'Rerun everything with `node bench/all.mjs` (1M rows, 3 rounds; `--rows 20000 --rounds 1` for a quick',
    'pass that only checks the chain). Ratios are medians over rounds of paired ratios (peer time ÷',
    "sluice time: above 1 sluice is faster); every figure's output was verified by its script first. Load",
    'is the 1-minute load average over the runs on a 2-core machine: above ~1 the machine was shared and',
    'the figures say more about the neighbours than about Sluice. The details, peers and notes: ',
    '[benchmarks-sql.md](benchmarks-sql.md), [benchmarks-file.md](benchmarks-file.md),',
    '[benchmarks.md](benchmarks.md), bench/results/.',
    '',
  ];
  if (all) {
    lines.push(
      `Last \`node bench/all.mjs\`: ${all.date}, commit ${all.commit}, ${all.rows.toLocaleString('en-US')} rows, ${all.rounds} round(s).`,
      '',
      '| script | exit | time | load before → after (1, 5, 15 min) |',
      '|---|--:|--:|---|',
      ...all.runs.map((r) => `| \`${r.command}\` | ${r.exit === 0 ? '0' : `**${r.exit}**`} | ${r.seconds} s | ${r.load.before.join(' ')} → ${r.load.after.join(' ')} |`),
      '',
    );
    if (all.runs.some((r) => r.exit !== 0)) lines.push('A script that failed left its earlier results file in place: its rows below are older (see their dates).', '');
  }
  lines.push('| workload | target | measured | met? | load | measured on |', '|---|---|--:|---|---|---|');
  for (const r of rows) lines.push(`| ${r.workload} | ${r.target} | ${r.figure} | ${met(r.ok)} | ${r.load} | ${r.when} |`);
  lines.push('');
  writeFileSync(join(ROOT, 'docs/benchmarks-issue12.md'), `${lines.join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) renderIssue12();
