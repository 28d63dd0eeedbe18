// Deterministic JSON Lines test data: `node bench/generate.mjs COUNT FILE`.
// Records average ~120 bytes; `amount` is uniform in [0, 100) with two decimals, so about half pass
// the benchmark's `amount > 50` filter. Same COUNT → byte-identical file, on any machine.
import { openSync, writeSync, closeSync, renameSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';

export const GENERATOR_VERSION = 2;

/** The benchmark's transform in jq: keep amount > 50, upper-case the name, add a tag. */
export const JQ_FILTER = 'select(.amount > 50) | .name |= ascii_upcase | .tag = "big"';

/** The same transform as a Sluice job's `steps:` (YAML): every script that runs the file benchmark's job uses it. */
export const SLUICE_STEPS = `steps:
  - use: filter
    with: { where: record.amount > 50 }
  - use: map
    with:
      set:
        name: record.name.toUpperCase()
        tag: "'big'"
`;

const FIRST = ['alice', 'bruno', 'chen', 'dara', 'emeka', 'fatima', 'goran', 'hana', 'ivan', 'jonas', 'kofi', 'lena', 'mateo', 'nadia', 'oskar', 'priya'];
const LAST = ['walker', 'silva', 'okafor', 'novak', 'tanaka', 'moreau', 'haddad', 'jensen', 'kowalski', 'romero', 'lindqvist', 'ferreira'];
const CITIES = ['Lisbon', 'Oslo', 'Lagos', 'Kyoto', 'Austin', 'Porto', 'Dakar', 'Quito', 'Tallinn', 'Perth', 'Turin', 'Leeds'];

/** mulberry32: small, fast, deterministic. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes COUNT records to FILE and returns `{ version, count, bytes, expected }`, where `expected` is what
 * the transform must output — its record count, first and last line and the SHA-256 of the whole
 * output, built here as text (not with JSON.stringify), so the check shares no code with any contender.
 */
export function generate(count, file) {
  const next = rng(20240601);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w');
  const base = Date.UTC(2024, 0, 1) / 1000;
  let bytes = 0;
  let chunk = '';
  let kept = 0;
  let firstOut;
  let lastOut;
  const outHash = createHash('sha256');
  for (let id = 1; id <= count; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const cents = Math.floor(next() * 10000);
    const day = new Date((base + Math.floor(next() * 365) * 86_400) * 1000).toISOString().slice(0, 10);
    const amount = (cents / 100).toFixed(2).replace(/\.?0+$/, '');
    const city = pick(CITIES);
    const rest = `"email":"${first}.${last}${id}@mail.com","amount":${amount},"city":"${city}","day":"${day}"`;
    chunk += `{"id":${id},"name":"${first} ${last}",${rest}}\n`;
    if (cents > 5000) {
      kept++;
      lastOut = `{"id":${id},"name":"${first.toUpperCase()} ${last.toUpperCase()}",${rest},"tag":"big"}`;
      firstOut ??= lastOut;
      outHash.update(`${lastOut}\n`);
    }
    if (chunk.length >= 1 << 20) {
      bytes += writeSync(fd, chunk);
      chunk = '';
    }
  }
  if (chunk) bytes += writeSync(fd, chunk);
  closeSync(fd);
  renameSync(temp, file);
  return { version: GENERATOR_VERSION, count, bytes, expected: { count: kept, first: firstOut, last: lastOut, sha256: outHash.digest('hex') } };
}

/**
 * `records-COUNT.jsonl` in `dir` and its meta (with the expected output), generated only when
 * missing or different. `log` hears what generating costs, when it does.
 */
export function ensureRecords(dir, count, log = () => {}) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `records-${count}.jsonl`);
  const metaFile = join(dir, `records-${count}.meta.json`);
  let meta;
  try {
    meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  } catch {
    meta = undefined;
  }
  const ok = meta && meta.version === GENERATOR_VERSION && meta.count === count && existsSync(file) && statSync(file).size === meta.bytes;
  if (!ok) {
    const started = performance.now();
    log(`generating ${count.toLocaleString('en-US')} records into ${relative(process.cwd(), file)} … `);
    meta = generate(count, file);
    writeFileSync(metaFile, JSON.stringify(meta, null, 2) + '\n');
    log(`${(meta.bytes / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)}s\n`);
  }
  return { file, meta };
}

/** What is wrong with the job's output file against `expected` (a meta's): nothing when it holds exactly the predicted records. */
export function outputProblems(output, expected) {
  const text = readFileSync(output, 'utf8');
  const lines = text.split('\n').filter(Boolean);
  const problems = [];
  if (lines.length !== expected.count) problems.push(`${lines.length} records, not ${expected.count}`);
  if (lines[0] !== expected.first) problems.push('first line differs');
  if (lines.at(-1) !== expected.last) problems.push('last line differs');
  if (createHash('sha256').update(text).digest('hex') !== expected.sha256) problems.push('SHA-256 differs');
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [count, file] = process.argv.slice(2);
  console.log(JSON.stringify(generate(Number(count), file)));
}
