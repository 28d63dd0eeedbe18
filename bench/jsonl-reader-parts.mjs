// Where the JSON Lines reader's CPU goes beyond JSON.parse, on the JSON Lines twin of the issue-12 file
// (bench/sql-lib.mjs `dataFiles`), in one process, each part as the median of 7 rounds of CPU time
// (process.cpuUsage, user + sys) after a warm-up round:
//   reader         JsonLinesParser.feed over the file's 1 MiB chunks into pages of 5,000 (this build)
//   JSON.parse     the same 32 KiB pieces, decoded, split at line breaks, one JSON.parse per line: the floor
//   digit-run scan longDigitRun over every piece (the check for numbers of more than 15 digits)
//   exponent scan  longExponent over every piece (the check for exponents of 3 digits)
//   and two ways of doing both scans in one pass, tried as replacements:
//   one regex      /[0-9.]{16}|[eE][+-]?[0-9]{3}/ over every piece
//   stride-3 scan  every third character; a digit found is grown to its run, which is a long run or an exponent
//   node bench/jsonl-reader-parts.mjs [ROWS] [--out FILE]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { timeWays } from './jsonl-lib.mjs';
import { commit, dataFiles, ROOT } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const ROWS = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const OUT = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : undefined;
const dist = (file) => pathToFileURL(join(ROOT, 'packages/plugins/file/dist', file)).href;
const { JsonLinesParser } = await import(dist('lines.js'));
const { PageCollector } = await import(dist('page.js'));
const { longDigitRun, longExponent } = await import(dist('json-values.js'));

const bytes = readFileSync(dataFiles(ROWS).jsonl);
const chunks = [];
for (let i = 0; i < bytes.length; i += 1 << 20) chunks.push(bytes.subarray(i, Math.min(bytes.length, i + (1 << 20))));
// The reader's pieces: whole lines of about 32 KiB, decoded once each.
const pieces = [];
for (let start = 0, last = bytes.lastIndexOf(10); start <= last; ) {
  const end = start + 32768 >= last ? last : bytes.indexOf(10, start + 32768);
  pieces.push(bytes.latin1Slice(start, end + 1));
  start = end + 1;
}

const isDigit = (c) => c >= 0x30 && c <= 0x39;
function stride3(text) {
  const n = text.length;
  for (let i = 2; i < n; i += 3) {
    if (!isDigit(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x2e) continue;
    let a = i;
    while (a > 0 && (isDigit(text.charCodeAt(a - 1)) || text.charCodeAt(a - 1) === 0x2e)) a--;
    let b = i + 1;
    while (b < n && (isDigit(text.charCodeAt(b)) || text.charCodeAt(b) === 0x2e)) b++;
    if (b - a >= 16) return a;
    let e = a - 1;
    if (text.charCodeAt(e) === 0x2b || text.charCodeAt(e) === 0x2d) e--;
    if (b - a >= 3 && (text.charCodeAt(e) === 0x65 || text.charCodeAt(e) === 0x45)) return e;
    i = b;
  }
  return -1;
}

const parts = {
  reader() {
    const pages = new PageCollector(5000, false);
    const parser = new JsonLinesParser(pages, 'bench.jsonl', 0, 0, 'line');
    let n = 0;
    for (const chunk of chunks) {
      parser.feed(chunk);
      for (const page of pages.ready) n += page.records.length;
      pages.ready.length = 0;
    }
    parser.end();
    pages.finish(0);
    for (const page of pages.ready) n += page.records.length;
    if (n !== ROWS) throw new Error(`the reader made ${n} records, expected ${ROWS}`);
  },
  'JSON.parse'() {
    let n = 0;
    for (const text of pieces) {
      for (let c = 0; c < text.length; ) {
        const nl = text.indexOf('\n', c);
        if (JSON.parse(text.slice(c, nl))) n++;
        c = nl + 1;
      }
    }
    if (n !== ROWS) throw new Error(`JSON.parse made ${n} values, expected ${ROWS}`);
  },
  'digit-run scan': () => pieces.forEach((t) => longDigitRun(t, 0)),
  'exponent scan': () => pieces.forEach((t) => longExponent(t, 0)),
  'one regex (both scans)': () => pieces.forEach((t) => /[0-9.]{16}|[eE][+-]?[0-9]{3}/.exec(t)),
  'stride-3 scan (both scans)': () => pieces.forEach((t) => stride3(t)),
};

timeWays(`JSON Lines reader parts, ${ROWS} rows; commit ${commit()}`, parts, { rounds: 7, out: OUT });
