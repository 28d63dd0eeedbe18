// Ways of writing the string fields of COPY data into a Buffer, on the 4M strings (email, name, country,
// created_at) of the JSON Lines twin of the issue-12 file, each the median of 5 rounds of CPU time
// (process.cpuUsage) after a warm-up, in one process:
//   char loop          what copy-text.ts does: charCodeAt per character, escapes written as it goes
//   regex + utf8Write  /[\\\n\r\t]/.test, then Buffer#utf8Write (native) per string
//   regex + latin1Write the same with latin1Write (right for ASCII only)
//   utf8Write only     no escape check at all: the cost of the native call alone
//   node bench/jsonl-copy-strings.mjs [ROWS] [--out FILE]
import { readFileSync } from 'node:fs';
import { timeWays } from './jsonl-lib.mjs';
import { dataFiles } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const ROWS = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const OUT = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : undefined;
const strings = [];
for (const line of readFileSync(dataFiles(ROWS).jsonl, 'utf8').split('\n')) {
  if (!line) continue;
  const r = JSON.parse(line);
  strings.push(r.email, r.name, r.country, r.created_at);
}
const buf = Buffer.allocUnsafe(strings.reduce((n, s) => n + 2 * s.length + 1, 0));
const ESCAPE = /[\\\n\r\t]/;
const escaped = () => {
  throw new Error('the benchmark data has no character to escape');
};
/** The escape check by regex, then the string written by Buffer's native `write` (utf8Write, latin1Write). */
const regexThen = (write) => () => {
  let pos = 0;
  for (const text of strings) {
    if (ESCAPE.test(text)) escaped();
    pos += buf[write](text, pos);
    buf[pos++] = 0x09;
  }
};
const ways = {
  'char loop'() {
    let pos = 0;
    for (const text of strings) {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) escaped();
        if (c === 0x5c || c === 0x0a || c === 0x0d || c === 0x09) {
          buf[pos++] = 0x5c;
          buf[pos++] = c;
        } else buf[pos++] = c;
      }
      buf[pos++] = 0x09;
    }
  },
  'regex + utf8Write': regexThen('utf8Write'),
  'regex + latin1Write': regexThen('latin1Write'),
  'utf8Write only'() {
    let pos = 0;
    for (const text of strings) {
      pos += buf.utf8Write(text, pos);
      buf[pos++] = 0x09;
    }
  },
};
timeWays(`COPY string writing, ${strings.length} strings`, ways, { rounds: 5, out: OUT });
