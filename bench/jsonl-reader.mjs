// The JSON Lines reader alone, on the JSON Lines twin of the issue-12 file (bench/sql-lib.mjs `dataFiles`).
//   node bench/jsonl-reader.mjs [ROWS] [--rounds R] [--no-write]
//   SLUICE_BENCH_BEFORE_ROOT=/path/to/an/older/checkout adds 'sluice before': that build's file source.
// Contenders (each a child process reading the file from disk and parsing one object per line):
//   sluice        the file source (`read()`: pages of 1,000 with positions and byte offsets; numbers checked)
//   node loop     readline over a read stream and JSON.parse per line: what one writes by hand
// Verified before any figure is shown: the rows hashed (SHA-256 of each row's values as JSON) must equal
// the node loop's. Timed inside the child (startup and module loading excluded), CPU time beside it.
// Results: bench/results/file-3-jsonl-reader.json and docs/benchmarks-file.md.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { readerChild, readerRounds, saveFileResults } from './file-lib.mjs';
import { commit, dataFiles, machine, ROOT } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const BEFORE = process.env.SLUICE_BENCH_BEFORE_ROOT;

const sluiceSource = async (root) => {
  const { fileSource } = await import(pathToFileURL(join(root, 'packages/plugins/file/dist/index.js')).href);
  const { createTestContext } = await import(pathToFileURL(join(root, 'packages/core/dist/testing/index.js')).href);
  const { withDefaults } = await import(pathToFileURL(join(root, 'packages/core/dist/index.js')).href);
  return { fileSource, withDefaults, ctx: createTestContext({ dir: ROOT, kind: 'source' }) };
};
const readSluice = async ({ fileSource, withDefaults, ctx }, file, onRecord) => {
  // `create` gets its config with the schema's defaults filled in, as the engine passes it.
  const source = await fileSource.create(withDefaults(fileSource.schema, { path: file, format: 'jsonl' }), ctx);
  for await (const page of source.read({ cursor: undefined, batchSize: 1000, signal: new AbortController().signal })) {
    if (page.errors?.length) throw new Error(`unexpected record errors: ${page.errors[0].error.message}`);
    for (const record of page.records) onRecord(record);
  }
};
const contenders = {
  sluice: { prepare: () => sluiceSource(ROOT), parse: readSluice },
  'node loop': {
    prepare: async () => undefined,
    async parse(_, file, onRecord) {
      for await (const text of createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity })) if (text) onRecord(JSON.parse(text));
    },
  },
  ...(BEFORE ? { 'sluice before': { prepare: () => sluiceSource(BEFORE), parse: readSluice } } : {}),
};

if (argv[0] === '--child') await readerChild(contenders, argv);

const ROWS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--rounds') ?? 1_000_000);
const ROUNDS = Number(argv.includes('--rounds') ? argv[argv.indexOf('--rounds') + 1] : 3);
const data = dataFiles(ROWS);
let reference;
const { rounds, cpuSeconds, markdownTable, loads } = await readerRounds({
  script: join(ROOT, 'bench/jsonl-reader.mjs'),
  names: Object.keys(contenders),
  file: data.jsonl,
  rows: ROWS,
  rounds: ROUNDS,
  expected: async (_name, child) => (reference ??= await child('node loop', true)),
});
const markdown = [
  `## JSON Lines reader alone: ${ROWS.toLocaleString('en-US')} rows × 6 fields`,
  '',
  `\`node bench/jsonl-reader.mjs\` — ${ROUNDS} rounds; ${machine()}; commit ${commit()}; ${new Date().toISOString().slice(0, 16)}Z; load (1 min) per round ${loads}.`,
  'Time: read + parse inside the process (startup and module loading excluded); CPU: user + system of the process.',
  '',
  ...markdownTable,
  ...(BEFORE ? ['', `'sluice before' is the file source of the build in ${BEFORE} (${process.env.SLUICE_BENCH_BEFORE_LABEL ?? 'an older build'}).`] : []),
  '',
].join('\n');
console.log(markdown);
if (!argv.includes('--no-write')) saveFileResults('3-jsonl-reader', { title: 'JSON Lines reader alone', rows: ROWS, rounds, cpuSeconds, date: new Date().toISOString(), machine: machine(), commit: commit(), markdown });
