// The file source's CSV read with raw pages (ReadOptions.raw: ['csv'], what a CSV → PostgreSQL
// load asks for) against the same read making records, on the issue-12 file (bench/sql-lib.mjs
// `dataFiles`): the cost of finding and checking raw pages (csv-raw.ts) next to parsing. Each read
// is the source's `read()` in pages of 1,000 from disk in this process; timed by the process's CPU
// time (user+sys, `process.cpuUsage`), rounds interleaved, medians. Checks that the raw read
// covered every row (the pages' counts plus their records).
//   node bench/csv-raw-scan.mjs [ROWS] [ROUNDS]   (default 1,000,000 rows, 5 rounds)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dataFiles, median, ROOT } from './sql-lib.mjs';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);

const { fileSource } = await import(pathToFileURL(join(ROOT, 'packages/plugins/file/dist/index.js')).href);
const { createTestContext, withDefaults } = await import(pathToFileURL(join(ROOT, 'packages/core/dist/testing/index.js')).href).then(async (t) => ({
  ...t,
  withDefaults: (await import(pathToFileURL(join(ROOT, 'packages/core/dist/index.js')).href)).withDefaults,
}));

async function read(file, raw) {
  const ctx = createTestContext({ dir: ROOT, kind: 'source' });
  const source = await fileSource.create(withDefaults(fileSource.schema, { path: file }), ctx);
  let rows = 0;
  let rawRows = 0;
  const start = process.cpuUsage();
  for await (const page of source.read({ cursor: undefined, batchSize: 1000, signal: ctx.signal, ...(raw ? { raw: ['csv'] } : {}) })) {
    if (page.raw) rawRows += page.raw.count;
    rows += page.raw ? page.raw.count : page.records.length + (page.errors?.length ?? 0);
  }
  const used = process.cpuUsage(start);
  return { cpu: (used.user + used.system) / 1e6, rows, rawRows };
}

const { csv } = dataFiles(ROWS);
const times = { raw: [], records: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 ? ['records', 'raw'] : ['raw', 'records']) {
    const got = await read(csv, mode === 'raw');
    if (got.rows !== ROWS) throw new Error(`${mode}: ${got.rows} rows, expected ${ROWS}`);
    times[mode].push(got.cpu);
    process.stderr.write(`round ${r + 1} ${mode}: cpu ${got.cpu.toFixed(3)} s${mode === 'raw' ? `, ${got.rawRows} rows in raw pages` : ''}\n`);
  }
}
const raw = median(times.raw);
const records = median(times.records);
console.log(`${ROWS.toLocaleString('en')} rows, ${ROUNDS} rounds: raw pages ${raw.toFixed(3)} s CPU (median), records ${records.toFixed(3)} s; raw / records ${(raw / records).toFixed(3)}`);
