// A real SMTP server (smtp-server) on 127.0.0.1 and a random port, for the email tests and bench.
// smtp-server and mailparser are dev dependencies of @sluice/plugin-email: resolve them from there.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SMTPServer as SMTPServerType, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { ParsedMail } from 'mailparser';
import { ROOT } from './cli.js';

const fromEmailPackage = createRequire(join(ROOT, 'packages/plugins/email/package.json'));
const load = async <T>(name: string): Promise<T> => (await import(pathToFileURL(fromEmailPackage.resolve(name)).href)) as T;

/** One message the server accepted (answered 250 after the final dot). */
export interface ReceivedMail {
  /** The Message-ID header, with its angle brackets. */
  readonly messageId: string;
  /** Envelope sender and recipients (MAIL FROM, RCPT TO). */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly raw: Buffer;
  /** Parsed with mailparser when the server was started with `parse: true`. */
  readonly parsed?: ParsedMail;
}

/** A reply that refuses a message: `{ code: 451, message: '4.7.1 try later' }`. */
export interface SmtpRefusal {
  readonly code: number;
  readonly message: string;
}

export interface SmtpServerOptions {
  /** Parse every accepted message with mailparser (default false: only the Message-ID is read). */
  readonly parse?: boolean;
  /** Refuse a recipient at RCPT TO. */
  readonly onRecipient?: (address: string) => SmtpRefusal | undefined;
  /**
   * Refuse a message after its final dot, or `'drop'` the connection without an answer; either way
   * it is not counted as received.
   */
  readonly onMessage?: (mail: { messageId: string; envelope: ReceivedMail['envelope']; attempt: number }) => SmtpRefusal | 'drop' | undefined;
  /** Require AUTH PLAIN/LOGIN with these credentials (and offer STARTTLS with smtp-server's self-signed certificate). */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** A 535 reply repeats the user name and password it was given, as some servers do. */
  readonly echoCredentials?: boolean;
  /** Milliseconds to wait before answering the final dot (a slower server). */
  readonly delayMs?: number;
  /** Answers no final dot before this settles: messages stay in flight until the test lets them go. */
  readonly hold?: Promise<unknown>;
}

export interface SmtpTestServer {
  readonly port: number;
  /** smtp://127.0.0.1:<port> */
  readonly url: string;
  /** Every accepted message, in the order the server accepted them. */
  readonly received: ReceivedMail[];
  /** Final dots the server saw, accepted or refused. */
  readonly stats: { dataAttempts: number; refused: number; dropped: number; authFailures: number };
  /** Accepted messages per Message-ID. */
  byMessageId(): Map<string, ReceivedMail[]>;
  /** Resolves once every message whose final dot has arrived is answered (accepted or refused). */
  settled(): Promise<void>;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

function refusal(reply: SmtpRefusal): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function messageIdOf(raw: Buffer): string {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n')) || raw.length).toString('utf8');
  return /^message-id:\s*(<[^>\r\n]*>)/im.exec(head)?.[1] ?? '';
}

/** Starts the server; `close()` it in `afterAll`/`finally`. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<SmtpTestServer> {
  const { SMTPServer } = await load<{ SMTPServer: typeof SMTPServerType }>('smtp-server');
  const simpleParser = options.parse ? (await load<typeof import('mailparser')>('mailparser')).simpleParser : undefined;
  const received: ReceivedMail[] = [];
  const stats = { dataAttempts: 0, refused: 0, dropped: 0, authFailures: 0 };
  const attempts = new Map<string, number>();
  const pending = new Set<Promise<unknown>>();

  const config: SMTPServerOptions = {
    logger: false,
    closeTimeout: 200,
    size: 25 * 1024 * 1024,
    ...(options.auth
      ? {
          authMethods: ['PLAIN', 'LOGIN'],
          onAuth(auth, _session, callback) {
            if (auth.username === options.auth!.user && auth.password === options.auth!.pass) return callback(null, { user: auth.username });
            stats.authFailures++;
            const echo = options.echoCredentials ? ` for ${auth.username} / ${auth.password}` : '';
            return callback(Object.assign(new Error(`5.7.8 authentication failed${echo}`), { responseCode: 535 }));
          },
        }
      : { authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] }),
    onRcptTo(address, _session, callback) {
      const reply = options.onRecipient?.(address.address);
      callback(reply ? refusal(reply) : undefined);
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // A connection that drops mid-message destroys the stream: no 'end', nothing counted.
      stream.on('end', () => {
        const done = (async () => {
          stats.dataAttempts++;
          const raw = Buffer.concat(chunks);
          const messageId = messageIdOf(raw);
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          const attempt = (attempts.get(messageId) ?? 0) + 1;
          attempts.set(messageId, attempt);
          if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
          if (options.hold) await options.hold;
          const reply = options.onMessage?.({ messageId, envelope, attempt });
          if (reply === 'drop') {
            stats.dropped++;
            for (const connection of server.connections) {
              const c = connection as unknown as { id?: string; session?: { id?: string }; _socket?: { destroy(): void } };
              if (c.id === session.id || c.session?.id === session.id) c._socket?.destroy();
            }
            return;
          }
          if (reply) {
            stats.refused++;
            return callback(refusal(reply));
          }
          const parsed = simpleParser ? await simpleParser(raw) : undefined;
          received.push({ messageId, envelope, raw, ...(parsed ? { parsed } : {}) });
          callback(null, `2.0.0 queued as ${received.length}`);
        })();
        pending.add(done);
        void done.finally(() => pending.delete(done));
      });
    },
  };
  const server = new SMTPServer(config);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // The SMTP client's own errors (a killed client resets its connections) are expected here.
  server.on('error', () => undefined);
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    stats,
    byMessageId() {
      const map = new Map<string, ReceivedMail[]>();
      for (const mail of received) map.set(mail.messageId, [...(map.get(mail.messageId) ?? []), mail]);
      return map;
    },
    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      await Promise.allSettled([...pending]);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of server.connections) (connection as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]);
    },
  };
}

/** Rejects after `ms` with `what` in the message: every await in these tests has a limit. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms}ms`)), ms);
    }),
  ]);
}

/** Parses a raw message (an .eml file) with mailparser. */
export async function parseMail(raw: Buffer): Promise<ParsedMail> {
  const { simpleParser } = await load<typeof import('mailparser')>('mailparser');
  return simpleParser(raw);
}
