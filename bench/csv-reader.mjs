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
import { fmt, hashLine, readerChild, readerRounds, saveFileResults } from './file-lib.mjs';
import { commit, dataFiles, machine, pairedRatio, ROOT } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const requireRoot = createRequire(join(ROOT, 'package.json'));

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

if (argv[0] === '--child') await readerChild(contenders, argv);

const ROWS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--rounds') ?? 1_000_000);
const ROUNDS = Number(argv.includes('--rounds') ? argv[argv.indexOf('--rounds') + 1] : 3);
const data = dataFiles(ROWS);

/** The JSON Lines twin's hash: what `cast: true` must read. */
async function castReference() {
  const hash = createHash('sha256');
  let rows = 0;
  let rest = '';
  for await (const chunk of createReadStream(data.jsonl, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const l of lines) (rows++, hash.update(hashLine(JSON.parse(l))));
  }
  return { rows, hash: hash.digest('hex') };
}

let reference;
let castRef;
const { rounds, cpuSeconds, table, markdownTable, loads } = await readerRounds({
  script: join(ROOT, 'bench/csv-reader.mjs'),
  names: Object.keys(contenders),
  file: data.csv,
  rows: ROWS,
  rounds: ROUNDS,
  async expected(name, child) {
    if (name === 'sluice-cast') return (castRef ??= await castReference());
    return (reference ??= await child('csv-parse', true));
  },
});
const cast = pairedRatio(rounds, 'sluice', 'sluice-cast');
const [s, c] = table;
const markdown = [
  `## CSV reader alone: ${ROWS.toLocaleString('en-US')} rows × 6 columns`,
  '',
  `\`node bench/csv-reader.mjs\` — ${ROUNDS} rounds; ${machine()}; commit ${commit()}; ${new Date().toISOString().slice(0, 16)}Z; load (1 min) per round ${loads}.`,
  'Time: read + parse + one object per row, inside the process (startup and module loading excluded); CPU: user + system of the process.',
  '',
  ...markdownTable,
  '',
  `Targets (issue 12): sluice ≥ 1,000,000 rows/s — ${s.ok ? `${Math.round(ROWS / s.seconds).toLocaleString('en-US')} rows/s by the clock, ${Math.round(ROWS / s.cpuSeconds).toLocaleString('en-US')} rows per CPU second` : 'not verified'}; ` +
    `cast: true at most 25 % slower — ${cast && c.ok ? `${fmt((cast.median - 1) * 100, 0)} % by the clock (median of paired ratios), ${fmt((c.cpuSeconds / s.cpuSeconds - 1) * 100, 0)} % in CPU time (medians)` : 'not verified'}.`,
  '',
].join('\n');
console.log(markdown);
if (!argv.includes('--no-write')) saveFileResults('1-csv-reader', { title: 'CSV reader alone', rows: ROWS, rounds, cpuSeconds, date: new Date().toISOString(), machine: machine(), commit: commit(), markdown });
