// A CPU-heavy transform in plain JavaScript, for the threads benchmark: `rounds` chained FNV-1a
// hashes per record, each over the previous round's 64-character hex text. Unlike `burn`
// (SHA-256 through node:crypto) it touches no state shared by the threads of a process: OpenSSL 3.0
// takes shared locks and reference counts on every digest, which makes two threads of one process
// contend where two processes do not (bench/results/threads-profile-2026-12-02.md).

/** `rounds` chained FNV-1a rounds over `text`: the record's 64-character hex field. */
export function churn(text, rounds) {
  let out = text;
  for (let r = 0; r < rounds; r++) {
    let h = 0x811c9dc5;
    for (let i = 0; i < out.length; i++) h = Math.imul(h ^ out.charCodeAt(i), 0x01000193);
    out = (h >>> 0).toString(16).padStart(8, '0').repeat(8);
  }
  return out;
}

export default [
  {
    name: 'churn',
    kind: 'transform',
    apiVersion: 1,
    description: 'Spends CPU on each record in plain JavaScript: chained FNV-1a of its id, `rounds` times (benchmark only).',
    schema: { type: 'object', additionalProperties: false, properties: { rounds: { type: 'integer', minimum: 1, default: 150 } } },
    create(config) {
      const rounds = config.rounds ?? 150;
      return {
        process(record) {
          record.hash = churn(String(record.id), rounds);
          return record;
        },
      };
    },
  },
];
