import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, RecordError, TransientError, type SinkInstance, type SluiceRecord } from '@sluice/core';
import { emailSink, parseAddressList } from '@sluice/plugin-email';
import { FieldTemplate } from '../packages/plugins/email/src/template.js';
import { classify } from '../packages/plugins/email/src/transport.js';
import { startSmtpServer, within, type SmtpTestServer } from './support/smtp.js';

const ctx = createTestContext();
const compile = (source: string, options = { strict: true }) => FieldTemplate.compile('subject', source, (s) => ctx.expression(s), options);

describe('templates of message fields', () => {
  it.each([
    ['Hi {{ record.name }}!', { name: 'Ann' }, 'Hi Ann!'],
    ['{{ "a}}b" }}', {}, 'a}}b'],
    ['{{ {a: {b: 1}}.a.b }}', {}, '1'],
    ['{{ record.n + 1 }} and {{ record.tags }}', { n: 1, tags: ['x'] }, '2 and ["x"]'],
    ['no braces', {}, 'no braces'],
  ])('%s renders like Sluice templates', (source, record, expected) => {
    expect(compile(source).render(record as SluiceRecord)).toBe(expected);
  });

  it('strict (the default): a missing value is a record error naming the field and the expression', () => {
    expect(() => compile('Hi {{ record.name }}').render({})).toThrowError(RecordError);
    expect(() => compile('Hi {{ record.name }}').render({})).toThrowError(/subject: \{\{ record\.name \}\} is undefined for this record \(strict: true\)/);
    expect(compile("Hi {{ record.name ?? '' }}").render({})).toBe('Hi ');
    expect(compile('Hi {{ record.name }}', { strict: false }).render({})).toBe('Hi ');
  });

  it('HTML bodies escape values; address fields join arrays', () => {
    const html = FieldTemplate.compile('html', '<p>{{ record.x }}</p>', (s) => ctx.expression(s), { strict: true, escapeHtml: true });
    expect(html.render({ x: `<script>"&'` })).toBe('<p>&lt;script&gt;&quot;&amp;&#39;</p>');
    const to = FieldTemplate.compile('to', '{{ record.to }}', (s) => ctx.expression(s), { strict: true, list: true });
    expect(to.render({ to: ['a@x.test', 'b@x.test'] })).toBe('a@x.test, b@x.test');
  });
});

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

describe('EmailWriter against a real SMTP server', () => {
  const servers: SmtpTestServer[] = [];
  const sinks: SinkInstance[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close?.()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  const open = async (server: SmtpTestServer, concurrency = 4) => {
    const sinkCtx = createTestContext({ kind: 'sink', concurrency, jobName: 'unit', stepId: 'mail' });
    const sink = await emailSink.create(
      { smtp: server.url, from: 'a@acme.test', to: '{{ record.email }}', subject: 'Hi {{ record.id }}', text: 't' } as never,
      sinkCtx,
    );
    sinks.push(sink);
    return { sink, ctx: sinkCtx };
  };
  const info = (seq: number, signal = new AbortController().signal, attempt = 1) => ({ seq, positions: [], attempt, signal });
  const users = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i, email: `u${from + i}@x.test` }));

  it('a key repeated within a batch is mailed once', async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const { sink } = await open(server);
    const result = await within(sink.write([...users(5), ...users(5)], info(0)), 10_000, 'write');
    expect(result).toEqual({});
    expect(server.received).toHaveLength(5);
  });

  it('a batch retried while its first attempt is still in flight sends every key once', async () => {
    let release!: () => void;
    const server = await startSmtpServer({ hold: new Promise<void>((resolve) => (release = resolve)) });
    servers.push(server);
    const { sink } = await open(server, 4);
    const batch = users(12);
    // The engine gives up on attempt 1 (a timeout) while four messages are in flight: the server
    // has their final dots and holds its answers...
    const first = new AbortController();
    const attempt1 = sink.write(batch, info(0, first.signal));
    await within(
      (async () => {
        while (server.stats.dataAttempts < 4) await new Promise((r) => setTimeout(r, 5));
      })(),
      10_000,
      'four messages in flight',
    );
    expect(server.received).toHaveLength(0);
    first.abort(new Error('timed out'));
    // ...and, as its timeout does not wait for the write, calls write again at once: the keys still
    // in flight are waited for, not sent again.
    const attempt2 = sink.write(batch, info(0, new AbortController().signal, 2));
    release();
    await expect(within(attempt1, 10_000, 'attempt 1')).rejects.toThrowError(TransientError);
    expect(await within(attempt2, 10_000, 'attempt 2')).toEqual({});
    expect(server.received).toHaveLength(12);
    expect(server.byMessageId().size).toBe(12);
  });

  it('temporary failures that outlast the tries in one write throw for the batch; the retry sends only the rest', async () => {
    let refuse = true;
    const server = await startSmtpServer({ onMessage: ({ envelope }) => (refuse && envelope.to[0] === 'u3@x.test' ? { code: 451, message: '4.7.1 greylisted' } : undefined) });
    servers.push(server);
    const { sink } = await open(server);
    await expect(within(sink.write(users(6), info(0)), 20_000, 'write')).rejects.toThrowError(/1 message\(s\) of this batch not sent yet \(451 4\.7\.1 greylisted\)/);
    expect(server.received).toHaveLength(5);
    expect(server.stats.refused).toBe(3);
    refuse = false;
    expect(await within(sink.write(users(6), info(0, undefined, 2)), 10_000, 'retry')).toEqual({});
    expect(server.received.map((m) => m.envelope.to[0]).sort()).toEqual(users(6).map((u) => u.email).sort());
  });
});
