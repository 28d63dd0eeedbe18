import { describe, expect, it } from 'vitest';
import { classify } from './transport.js';

describe('what an SMTP failure means', () => {
  it.each([
    [{ responseCode: 421, command: 'DATA', response: '421 4.4.2 closing' }, 'transient'],
    [{ responseCode: 450, command: 'RCPT TO', response: '450 mailbox busy' }, 'transient'],
    [{ responseCode: 451, command: 'DATA', response: '451 try later', permanent: false }, 'transient'],
    [{ responseCode: 452, command: 'RCPT TO', response: '452 too many recipients' }, 'transient'],
    [{ responseCode: 503, command: 'RCPT TO', response: '503 bad sequence' }, 'transient'],
    [{ code: 'ECONNECTION', command: 'CONN', message: 'Connection closed unexpectedly' }, 'transient'],
    [{ code: 'ETIMEDOUT', message: 'Timeout' }, 'transient'],
    [{ responseCode: 550, command: 'RCPT TO', code: 'EENVELOPE', response: '550 5.1.1 unknown user' }, 'rejected'],
    [{ responseCode: 554, command: 'DATA', code: 'EMESSAGE', response: '554 5.7.1 spam' }, 'rejected'],
    [{ code: 'ENOENT', message: 'no such file' }, 'rejected'],
    [{ responseCode: 535, command: 'AUTH PLAIN', code: 'EAUTH', response: '535 bad credentials' }, 'fatal'],
    [{ code: 'ETLS', message: 'certificate has expired' }, 'fatal'],
  ])('%o → %s', (error, kind) => {
    expect(classify(Object.assign(new Error((error as { message?: string }).message ?? 'x'), error)).kind).toBe(kind);
  });
  it('keeps the server reply as the message', () => {
    expect(classify(Object.assign(new Error('x'), { responseCode: 550, command: 'RCPT TO', response: '550 5.1.1 <a@b>: no such user' }))).toEqual({
      kind: 'rejected',
      message: '550 5.1.1 <a@b>: no such user',
    });
  });
});
