// The email writer against a real SMTP server (test/support/smtp.ts): at most once per key.
import { createTestContext, TransientError, type SinkInstance } from '@sluice/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startSmtpServer, within, type SmtpTestServer } from '../../../../test/support/smtp.js';
import { emailSink } from './sink.js';

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
