// The CSV reader alone, against maintained parsers: 1M rows × 6 columns (bench/users-data.mjs).
//   node bench/csv-reader.mjs [--rows N] [--rounds R] [--quoted] [--no-write]
// Contenders (each a child process reading the file from disk and building one object per row):
//   sluice        the file source (`read()` pages of 1,000, positions and byte offsets included), cast: false
//   sluice-cast   the same with cast: true
//   csv-parse     csv-parse 6 (stream, columns: true), what the file source used before
//   papaparse     papaparse 5 (Node stream, header: true)
//   udsv          uDSV (incremental, string objects; chunks decoded with a streaming TextDecoder)
// Every contender's output is hashed (SHA-256 of each row's values as JSON, in column order) before it
// is timed: the string contenders must equal csv-parse's hash; sluice-cast must equal the hash of the same
// rows read from the JSON Lines twin file (numbers as numbers). Results: bench/results/file-1-csv-reader.*
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fmt, interleave, load, machine, median, pairedRatio, ROOT, runChild, writeResults } from './lib/rounds.mjs';
import { usersData } from './users-data.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const require = createRequire(join(ROOT, 'packages/plugins/file/package.json'));
const requireRoot = createRequire(join(ROOT, 'package.json'));

/** Values of a row in column order, as one line of the hash. */
const line = (record) => `${JSON.stringify(Object.values(record))}\n`;

const contenders = {
  async sluice(file, onRecord, cast = false) {
    const { fileSource } = await import(pathToFileURL(join(ROOT, 'packages/plugins/file/dist/index.js')).href);
    const { createTestContext } = await import(pathToFileURL(join(ROOT, 'packages/core/dist/testing/index.js')).href);
    const ctx = createTestContext({ dir: ROOT, kind: 'source' });
    const source = await fileSource.create({ path: file, format: 'csv', csv: { cast } }, ctx);
    for await (const page of source.read({ cursor: undefined, batchSize: 1000, signal: new AbortController().signal })) {
      if (page.errors?.length) throw new Error(`unexpected record errors: ${page.errors[0].error.message}`);
      for (const record of page.records) onRecord(record);
    }
  },
  'sluice-cast': (file, onRecord) => contenders.sluice(file, onRecord, true),
  async 'csv-parse'(file, onRecord) {
    const { parse } = requireRoot('csv-parse');
    const parser = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(parse({ columns: true }));
    for await (const record of parser) onRecord(record);
  },
  async papaparse(file, onRecord) {
    const Papa = requireRoot('papaparse');
    await new Promise((resolve, reject) => {
      Papa.parse(createReadStream(file, { highWaterMark: 1 << 20 }), {
        header: true,
        skipEmptyLines: true,
        chunk: (results) => {
          for (const record of results.data) onRecord(record);
        },
        complete: resolve,
        error: reject,
      });
    });
  },
  async udsv(file, onRecord) {
    const { inferSchema, initParser } = requireRoot('udsv');
    const decoder = new TextDecoder();
    let parser;
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const text = decoder.decode(chunk, { stream: true });
      parser ??= initParser(inferSchema(text));
      parser.chunk(text, parser.stringObjs, (record) => {
        onRecord(record);
      });
    }
    parser.end();
  },
};

if (argv[0] === '--child') {
  const [, name, file, mode] = argv;
  let rows = 0;
  const hash = mode === '--verify' ? createHash('sha256') : undefined;
  const started = performance.now();
  await contenders[name](file, hash ? (r) => (rows++, hash.update(line(r))) : () => rows++);
  const ms = performance.now() - started;
  console.log(JSON.stringify({ rows, ms, hash: hash?.digest('hex') }));
  process.exit(0);
}

const ROWS = Number(option('--rows', 1_000_000));
const ROUNDS = Number(option('--rounds', 3));
const quoted = argv.includes('--quoted');
const data = usersData(ROWS, { quoted });

/** The hash of the JSON Lines twin: the rows as `cast: true` must read them. */
async function castReference() {
  const hash = createHash('sha256');
  let rows = 0;
  let rest = '';
  for await (const chunk of createReadStream(data.jsonl, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const l of lines) (rows++, hash.update(line(JSON.parse(l))));
  }
  return { rows, hash: hash.digest('hex') };
}

const child = async (name, mode) => {
  const { stdout, rssMb } = await runChild(process.execPath, [join(ROOT, 'bench/csv-reader.mjs'), '--child', name, data.csv, ...(mode ? [mode] : [])]);
  return { ...JSON.parse(stdout), rssMb };
};

const reference = await child('csv-parse', '--verify');
const castRef = await castReference();
console.log(`reference: ${reference.rows} rows, csv-parse ${reference.hash.slice(0, 12)}…, cast ${castRef.hash.slice(0, 12)}…`);
const names = Object.keys(contenders);
const started = load();
const { results, loads } = await interleave(
  names.map((name) => ({
    name,
    async verify() {
      const out = await child(name, '--verify');
      const want = name === 'sluice-cast' ? castRef : reference;
      if (out.rows !== ROWS || out.rows !== want.rows) return `${out.rows} rows, expected ${ROWS}`;
      if (out.hash !== want.hash) return `content hash ${out.hash.slice(0, 12)}… differs from ${want.hash.slice(0, 12)}…`;
      return undefined;
    },
    run: async () => child(name),
  })),
  ROUNDS,
);

const sluice = results.find((r) => r.name === 'sluice');
const rows = results.map((r) => {
  const ms = median(r.runs.map((x) => x.ms));
  return {
    name: r.name,
    failed: r.failed,
    medianSeconds: ms / 1000,
    rowsPerSecond: r.failed ? NaN : ROWS / (ms / 1000),
    peakRssMb: Math.max(...r.runs.map((x) => x.rssMb)),
    timeVsSluice: r.name === 'sluice' ? 1 : pairedRatio(sluice, r),
    runs: r.runs,
  };
});
const json = { workload: 'csv-reader', rows: ROWS, quoted, rounds: ROUNDS, machine: machine(), loadBefore: started, loads, date: new Date().toISOString(), results: rows };
const castRatio = pairedRatio(sluice, results.find((r) => r.name === 'sluice-cast'));
const md = [
  `## CSV reader alone${quoted ? ' (10 % quoted names)' : ''}: ${ROWS.toLocaleString('en-US')} rows × 6 columns`,
  '',
  `\`node bench/csv-reader.mjs${quoted ? ' --quoted' : ''}\` — ${ROUNDS} rounds, ${json.date.slice(0, 16)}Z, ${json.machine.cores} cores (${json.machine.cpu}), Node ${json.machine.node}, commit ${json.machine.git}.`,
  `Load averages (1/5/15 min) before: ${started.join(' / ')}; per round: ${loads.map((l) => `${l.before[0]}→${l.after[0]}`).join(', ')}.`,
  'Time is read + parse + one object per row, inside the process (startup excluded); peak RSS of the whole process.',
  '',
  '| contender | median time | rows/s | time ÷ sluice (median of paired ratios) | peak RSS | verified |',
  '|---|--:|--:|--:|--:|---|',
  ...rows.map((r) => `| ${r.name} | ${r.failed ? '—' : `${fmt(r.medianSeconds)} s`} | ${r.failed ? '—' : Math.round(r.rowsPerSecond).toLocaleString('en-US')} | ${r.failed ? '—' : fmt(r.timeVsSluice)} | ${r.failed ? '—' : `${r.peakRssMb} MB`} | ${r.failed ? `no: ${r.failed}` : 'yes'} |`),
  '',
  `Targets (issue 12): sluice ≥ 1,000,000 rows/s — ${fmt(rows[0].rowsPerSecond / 1e6)} M rows/s; cast: true at most 25 % slower — ${Number.isFinite(castRatio) ? `${fmt((castRatio - 1) * 100, 0)} % slower (median of paired ratios)` : 'not measured'}.`,
  '',
].join('\n');
console.log(md);
if (!argv.includes('--no-write')) writeResults(`file-1-csv-reader${quoted ? '-quoted' : ''}`, json, md);
