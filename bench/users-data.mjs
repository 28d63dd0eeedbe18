// The issue-12 file shape: 1M rows × 6 columns (id, email, name, country, amount, created_at), as CSV and
// as JSON Lines, deterministic (same count → byte-identical files on any machine). No field needs
// quoting, so hand-written peers may split on commas; `quoted: true` writes a variant in which about
// one row in ten has a quoted name holding a comma, a doubled quote or a line break.
//   node bench/users-data.mjs [COUNT] [--quoted]   → bench/.data/users-COUNT[-quoted].{csv,jsonl}
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DATA = fileURLToPath(new URL('.data/', import.meta.url));
export const USERS_COLUMNS = ['id', 'email', 'name', 'country', 'amount', 'created_at'];

const FIRST = ['alice', 'bruno', 'chen', 'dara', 'emeka', 'fatima', 'goran', 'hana', 'ivan', 'jonas', 'kofi', 'lena', 'mateo', 'nadia', 'oskar', 'priya'];
const LAST = ['Walker', 'Silva', 'Okafor', 'Novak', 'Tanaka', 'Moreau', 'Haddad', 'Jensen', 'Kowalski', 'Romero', 'Lindqvist', 'Ferreira'];
const COUNTRIES = ['PT', 'NO', 'NG', 'JP', 'US', 'BR', 'SN', 'EC', 'EE', 'AU', 'IT', 'GB'];

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

/** Paths of the CSV and JSON Lines files of `count` rows, written when missing. */
export function usersData(count, { quoted = false } = {}) {
  mkdirSync(DATA, { recursive: true });
  const base = join(DATA, `users-${count}${quoted ? '-quoted' : ''}`);
  const csv = `${base}.csv`;
  const jsonl = `${base}.jsonl`;
  if (existsSync(csv) && existsSync(jsonl)) return { csv, jsonl };
  const next = rng(12_2026);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const start = Date.UTC(2024, 0, 1);
  const fc = openSync(`${csv}.tmp`, 'w');
  const fj = openSync(`${jsonl}.tmp`, 'w');
  let c = `${USERS_COLUMNS.join(',')}\n`;
  let j = '';
  for (let id = 1; id <= count; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    let name = `${first} ${last}`;
    let cell = name;
    if (quoted && next() < 0.1) {
      const kind = Math.floor(next() * 3);
      name = kind === 0 ? `${last}, ${first}` : kind === 1 ? `${first} "${last}"` : `${first}\n${last}`;
      cell = `"${name.replaceAll('"', '""')}"`;
    }
    const email = `${first}.${last.toLowerCase()}${id}@example.com`;
    const country = pick(COUNTRIES);
    const amount = (Math.floor(next() * 1_000_000) / 100).toFixed(2);
    const created = new Date(start + Math.floor(next() * 3e10)).toISOString();
    c += `${id},${email},${cell},${country},${amount},${created}\n`;
    j += `{"id":${id},"email":"${email}","name":${JSON.stringify(name)},"country":"${country}","amount":${amount},"created_at":"${created}"}\n`;
    if (c.length > 1 << 20) {
      writeSync(fc, c);
      writeSync(fj, j);
      c = j = '';
    }
  }
  writeSync(fc, c);
  writeSync(fj, j);
  closeSync(fc);
  closeSync(fj);
  renameSync(`${csv}.tmp`, csv);
  renameSync(`${jsonl}.tmp`, jsonl);
  return { csv, jsonl };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  console.log(usersData(count, { quoted: process.argv.includes('--quoted') }));
}
