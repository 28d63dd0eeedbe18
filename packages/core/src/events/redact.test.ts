import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.js';

const TOKEN = 'Sup3r/Secret+Tok=en&x';
const { redact, redactValue } = new Redactor([TOKEN, 'smtp://mailer:p%40ss w0rd!@127.0.0.1:2525', 'pa ss"wo\\rd']);
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('Redactor: every form a secret travels in is hidden', () => {
  it.each([
    ['as typed', `token ${TOKEN} refused`],
    ['URL-encoded, upper-case hex', `GET /x?api_key=${encodeURIComponent(TOKEN)}&page=2`],
    ['URL-encoded, lower-case hex', `GET /x?api_key=${encodeURIComponent(TOKEN).toLowerCase().replace('sup3r', 'Sup3r').replace('secret', 'Secret').replace('tok', 'Tok')}`],
    ['form-encoded (space as +)', `body: ${new URLSearchParams({ p: 'pa ss"wo\\rd' }).toString()}`],
    ['URL-encoded with %20 for a space', `GET /x?p=${encodeURIComponent('pa ss"wo\\rd')}`],
    ['JSON-escaped', JSON.stringify({ message: 'pa ss"wo\\rd' })],
    ['JSON-escaped twice', JSON.stringify(JSON.stringify({ message: 'pa ss"wo\\rd' }))],
    ['base64 alone', `token ${Buffer.from(TOKEN).toString('base64')}`],
    ['base64url alone', `token ${Buffer.from(TOKEN).toString('base64url')}`],
    ['Basic auth, user of length 0 mod 3', `authorization: ${basic('etl', TOKEN)}`],
    ['Basic auth, user of length 1 mod 3', `authorization: ${basic('etla', TOKEN)}`],
    ['Basic auth, user of length 2 mod 3', `authorization: ${basic('etlab', TOKEN)}`],
    ['a URL secret\'s password, decoded, echoed by a server', '535 5.7.8 authentication failed for mailer / p@ss w0rd!'],
    ['a URL secret\'s password as written in the URL', 'cannot connect with p%40ss w0rd!'],
  ])('%s', (_name, text) => {
    const out = redact(text);
    expect(out).toContain('***');
    for (const fragment of ['Secret', 'p@ss', 'p%40ss', 'ss"wo', 'ss\\"wo', 'ss%22wo', 'ss%2522', 'U2VjcmV0']) expect(out).not.toContain(fragment);
    // What is not secret stays readable.
    if (text.startsWith('GET')) expect(out).toMatch(/^GET \/x\?/);
  });

  it('leaves text without secrets alone, and hides a secret holding another whole', () => {
    expect(redact('nothing to see here; Sup3r alone is fine')).toBe('nothing to see here; Sup3r alone is fine');
    const nested = new Redactor(['abc', 'xxabcxx']);
    expect(nested.redact('1 xxabcxx 2 abc')).toBe('1 *** 2 ***');
    expect(new Redactor(['ab', '']).redact('ab cd')).toBe('ab cd');
  });

  it('redacts every string of a value, and never breaks it (a secret with a quote and a backslash)', () => {
    const value = { 'key pa ss"wo\\rd': ['pa ss"wo\\rd', 1, null, { at: new Date(0) }], ok: true };
    expect(redactValue(value)).toEqual({ 'key ***': ['***', 1, null, { at: '1970-01-01T00:00:00.000Z' }], ok: true });
  });
});
