import { describe, expect, it } from 'vitest';
import { parseAddressList } from './address.js';

describe('addresses', () => {
  it.each([
    ['a@example.com', [{ name: '', address: 'a@example.com' }]],
    ['Ann <a@example.com>', [{ name: 'Ann', address: 'a@example.com' }]],
    ['"Doe, Ann" <a@example.com>, b@x.test', [{ name: 'Doe, Ann', address: 'a@example.com' }, { name: '', address: 'b@x.test' }]],
    ['müller@bücher.de', [{ name: '', address: 'müller@bücher.de' }]],
  ])('%s parses', (text, mailboxes) => {
    expect(parseAddressList(text)).toEqual({ mailboxes });
  });
  it.each(['bob', 'bob@', '@x.test', 'a b@x.test', 'Ann <a@>', 'a@x..test', 'a@-x.test', 'a@x.test, nope'])('%s is not an address', (text) => {
    expect(parseAddressList(text)).toHaveProperty('invalid');
  });
});
