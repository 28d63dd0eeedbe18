// The CSV reader alone, against maintained parsers, on the issue-12 file (bench/sql-lib.mjs `dataFiles`).
//   node bench/csv-reader.mjs [ROWS] [--rounds R] [--no-write]
// Contenders (each a child process reading the file from disk and building one object per row):
//   sluice        the file source (`read()`: pages of 1,000 with positions and byte offsets), cast: false
//   sluice-cast   the same with cast: true
//   csv-parse     csv-parse 6 (stream, columns: true), what the file source used before
//   papaparse     papaparse 5 (Node stream, header: true)
//   udsv          uDSV 0.7 (incremental, string objects; chunks decoded by a streaming TextDecoder)
// Verified before any figure is shown: each contender's rows hashed (SHA-256 of each row's values as
// JSON, in column order) must equal csv-parse's (sluice-cast: the JSON Lines twin's, numbers as numbers).
// Timed: read + parse inside the child (its startup excluded); CPU time beside it, since on a busy
// machine the wall time mostly measures waiting. Results: bench/results/file-1-csv-reader.json.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fmt, saveFileResults } from './file-lib.mjs';
import { commit, dataFiles, interleave, machine, median, pairedRatio, ROOT, summary, timedChild } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const requireRoot = createRequire(join(ROOT, 'package.json'));
const line = (record) => `${JSON.stringify(Object.values(record))}\n`;

/** Each contender: `prepare()` loads its modules (not timed), `parse(prepared, file, onRecord)` is timed. */
const sluiceSource = async (cast) => {
  const { fileSource } = await import(pathToFileURL(join(ROOT, 'packages/plugins/file/dist/index.js')).href);
  const { createTestContext } = await import(pathToFileURL(join(ROOT, 'packages/core/dist/testing/index.js')).href);
  return { fileSource, cast, ctx: createTestContext({ dir: ROOT, kind: 'source' }) };
};
const readSluice = async ({ fileSource, cast, ctx }, file, onRecord) => {
  const source = await fileSource.create({ path: file, format: 'csv', csv: { cast } }, ctx);
  for await (const page of source.read({ cursor: undefined, batchSize: 1000, signal: new AbortController().signal })) {
    if (page.errors?.length) throw new Error(`unexpected record errors: ${page.errors[0].error.message}`);
    for (const record of page.records) onRecord(record);
  }
};
const contenders = {
  sluice: { prepare: () => sluiceSource(false), parse: readSluice },
  'sluice-cast': { prepare: () => sluiceSource(true), parse: readSluice },
  'csv-parse': {
    prepare: async () => requireRoot('csv-parse'),
    async parse({ parse }, file, onRecord) {
      for await (const record of createReadStream(file, { highWaterMark: 1 << 20 }).pipe(parse({ columns: true }))) onRecord(record);
    },
  },
  papaparse: {
    prepare: async () => requireRoot('papaparse'),
    parse: (Papa, file, onRecord) =>
      new Promise((resolve, reject) => {
        Papa.parse(createReadStream(file, { highWaterMark: 1 << 20 }), {
          header: true,
          skipEmptyLines: true,
          chunk: (results) => results.data.forEach(onRecord),
          complete: resolve,
          error: reject,
        });
      }),
  },
  udsv: {
    prepare: async () => requireRoot('udsv'),
    async parse({ inferSchema, initParser }, file, onRecord) {
      const decoder = new TextDecoder();
      let parser;
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
        const text = decoder.decode(chunk, { stream: true });
        parser ??= initParser(inferSchema(text));
        parser.chunk(text, parser.stringObjs, onRecord);
      }
      parser.end();
    },
  },
};

if (argv[0] === '--child') {
  const [, name, file, mode] = argv;
  let rows = 0;
  const hash = mode === '--verify' ? createHash('sha256') : undefined;
  const prepared = await contenders[name].prepare();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await contenders[name].parse(prepared, file, hash ? (r) => (rows++, hash.update(line(r))) : () => rows++);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({ rows, ms, cpuMs: (used.user + used.system) / 1000, hash: hash?.digest('hex') }));
  process.exit(0);
}

const ROWS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--rounds') ?? 1_000_000);
const ROUNDS = Number(argv.includes('--rounds') ? argv[argv.indexOf('--rounds') + 1] : 3);
const data = dataFiles(ROWS);

const child = async (name, verify) => {
  const { out, rssMB } = await timedChild(process.execPath, [join(ROOT, 'bench/csv-reader.mjs'), '--child', name, data.csv, ...(verify ? ['--verify'] : [])], { cwd: ROOT });
  return { ...JSON.parse(out), rssMB };
};

/** The JSON Lines twin's hash: what `cast: true` must read. */
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

const reference = await child('csv-parse', true);
const castRef = await castReference();
const verified = new Map();
const cpuRuns = new Map(Object.keys(contenders).map((name) => [name, []]));
const rounds = await interleave(
  Object.keys(contenders).map((name) => ({
    id: name,
    async run() {
      const r = await child(name, false);
      cpuRuns.get(name).push(r.cpuMs / 1000);
      return { seconds: r.ms / 1000, rssMB: r.rssMB };
    },
    async verify() {
      if (!verified.has(name)) {
        const out = await child(name, true);
        const want = name === 'sluice-cast' ? castRef : reference;
        verified.set(name, out.rows !== ROWS || out.rows !== want.rows ? `${out.rows} rows, expected ${ROWS}` : out.hash !== want.hash ? `content hash ${out.hash.slice(0, 12)}… differs from ${want.hash.slice(0, 12)}…` : undefined);
      }
      return verified.get(name);
    },
  })),
  ROUNDS,
);

const names = Object.keys(contenders);
const table = names.map((id) => ({ id, ...summary(rounds, id), cpuSeconds: median(cpuRuns.get(id)), vsSluice: id === 'sluice' ? { median: 1 } : pairedRatio(rounds, 'sluice', id) }));
const cast = pairedRatio(rounds, 'sluice', 'sluice-cast');
const loads = rounds.map((r) => `${r.load.before.split(' ')[0]}→${r.load.after.split(' ')[0]}`).join(', ');
const s = table[0];
const markdown = [
  `## CSV reader alone: ${ROWS.toLocaleString('en-US')} rows × 6 columns`,
  '',
  `\`node bench/csv-reader.mjs\` — ${ROUNDS} rounds; ${machine()}; commit ${commit()}; ${new Date().toISOString().slice(0, 16)}Z; load (1 min) per round ${loads}.`,
  'Time: read + parse + one object per row, inside the process (startup excluded); CPU: user + system of the process.',
  '',
  '| contender | median time | rows/s | median CPU | time ÷ sluice\'s (median of paired ratios) | peak RSS | verified |',
  '|---|--:|--:|--:|--:|--:|---|',
  ...table.map((r) =>
    r.ok
      ? `| ${r.id} | ${fmt(r.seconds)} s | ${Math.round(ROWS / r.seconds).toLocaleString('en-US')} | ${fmt(r.cpuSeconds)} s | ${fmt(r.vsSluice?.median)} | ${r.rssMB} MB | yes |`
      : `| ${r.id} | — | — | — | — | — | no: ${r.problem} |`,
  ),
  '',
  `Targets (issue 12): sluice ≥ 1,000,000 rows/s — ${s.ok ? `${Math.round(ROWS / s.seconds).toLocaleString('en-US')} rows/s by the clock, ${Math.round(ROWS / s.cpuSeconds).toLocaleString('en-US')} rows per CPU second` : 'not verified'}; ` +
    `cast: true at most 25 % slower — ${cast ? `${fmt((cast.median - 1) * 100, 0)} % slower (median of paired ratios)` : 'not verified'}.`,
  '',
].join('\n');
console.log(markdown);
if (!argv.includes('--no-write')) saveFileResults('1-csv-reader', { title: 'CSV reader alone', rows: ROWS, rounds, cpuSeconds: Object.fromEntries(cpuRuns), date: new Date().toISOString(), machine: machine(), commit: commit(), markdown });
