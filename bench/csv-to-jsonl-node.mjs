// The hand-written peer of bench/csv-to-jsonl.mjs: what a developer writes to turn a CSV file into
// JSON Lines with Node alone — readline over a read stream, split on commas (a line with a quote goes
// through a small quoted-field splitter; the bench file has no line breaks inside quotes), numbers cast
// with a regular expression, JSON.stringify, a write stream that respects backpressure.
// Usage: node bench/csv-to-jsonl-node.mjs IN.csv OUT.jsonl
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const [input, output] = process.argv.slice(2);
const out = createWriteStream(output);
const lines = createInterface({ input: createReadStream(input, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
const NUMBER = /^-?\d+(\.\d+)?$/;

/** Fields of a line with quoted fields ("a, b" and doubled quotes). */
function splitQuoted(line) {
  const fields = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        value += line.slice(j, q);
        if (line[q + 1] === '"') {
          value += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
    } else {
      let c = line.indexOf(',', i);
      if (c === -1) c = line.length;
      fields.push(line.slice(i, c));
      i = c;
    }
    if (i >= line.length) return fields;
    i++; // the comma
  }
}
let names;
let text = '';
let written = 0;
for await (const line of lines) {
  if (line === '') continue;
  const fields = line.includes('"') ? splitQuoted(line) : line.split(',');
  if (!names) {
    names = fields;
    continue;
  }
  const record = {};
  for (let i = 0; i < names.length; i++) record[names[i]] = NUMBER.test(fields[i]) ? Number(fields[i]) : fields[i];
  text += JSON.stringify(record) + '\n';
  written++;
  if (text.length > 1 << 16) {
    if (!out.write(text)) await once(out, 'drain');
    text = '';
  }
}
out.end(text);
await once(out, 'finish');
process.stderr.write(`node loop: written ${written}\n`);
