import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MailComposerOptions, NodemailerError, Transporter } from 'nodemailer';

/** What a transport reports back for a message it took. */
export interface Delivery {
  /** The server's final reply (`250 2.0.0 queued as …`), or the file written. */
  readonly response: string;
  /** Recipients the server refused while it accepted the others. */
  readonly rejected: readonly string[];
}

/** Where messages go: an SMTP pool, `.eml` files, or nowhere (dry run). */
export interface MailTransport {
  /**
   * Delivers one message, holding back its last step — the SMTP end-of-data dot, the rename of
   * the file — until `ready` resolves (and failing if it rejects): the message can be prepared and
   * streamed while the key before it is still being recorded, but cannot be accepted before.
   * Rejects with nodemailer's error (responseCode, command, code).
   */
  send(mail: MailComposerOptions, fileName: string, ready: Promise<void>): Promise<Delivery>;
  close(): Promise<void>;
}

/** SMTP connection settings, from the sink's options. */
export interface SmtpSettings {
  readonly url: string;
  readonly auth?: { readonly user: string; readonly pass: string };
  readonly requireTLS: boolean;
  readonly tls: { readonly rejectUnauthorized: boolean; readonly servername?: string };
  /** Pooled connections: the step's `concurrency`. */
  readonly maxConnections: number;
  /** Connect, greeting and idle-socket timeouts of one message attempt. */
  readonly timeoutMs: number;
}

type Nodemailer = typeof import('nodemailer').default;
type MailComposerClass = typeof import('nodemailer/lib/mail-composer').default;

// Loaded on first use: a job that never mails does not pay for nodemailer.
let loaded: Promise<Nodemailer> | undefined;
function nodemailer(): Promise<Nodemailer> {
  loaded ??= import('nodemailer').then((m) => m.default);
  return loaded;
}
let composer: Promise<MailComposerClass> | undefined;

/** Builds a message into MIME bytes with nodemailer's MailComposer (the Bcc header left out). */
async function mimeBuilder(): Promise<(mail: MailComposerOptions) => Promise<Buffer>> {
  composer ??= import('nodemailer/lib/mail-composer').then((m) => m.default);
  const MailComposer = await composer;
  // Attachments are files the sink checked; nothing is fetched from URLs.
  return (mail) => new MailComposer({ ...mail, disableUrlAccess: true }).compile().build();
}

/** The URL's scheme, host and port — no user name or password — for messages. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(unparseable smtp URL)';
  }
}

/**
 * The message with its last body part as a stream that ends only when `ready` resolves: nodemailer
 * sends the envelope and streams the message meanwhile, but the end-of-data dot only after it.
 */
function gated(mail: MailComposerOptions, ready: Promise<void>): MailComposerOptions {
  const field = mail.html !== undefined ? 'html' : 'text';
  const body = new Readable({ read() {} });
  const content = mail[field];
  body.push(Buffer.from(typeof content === 'string' ? content : ''));
  ready.then(
    () => {
      if (!body.destroyed) body.push(null);
    },
    (error: unknown) => body.destroy(error instanceof Error ? error : new Error(String(error))),
  );
  return { ...mail, [field]: body };
}

/** A pool of SMTP connections, one message per connection at a time. */
export async function smtpTransport(settings: SmtpSettings): Promise<MailTransport & { verify(): Promise<void> }> {
  const mailer = await nodemailer();
  const transporter = mailer.createTransport({
    pool: true,
    url: settings.url,
    maxConnections: settings.maxConnections,
    // Retries are the sink's own (it knows what was sent and records it): the pool must not
    // resend a message on its own when a connection drops.
    maxRequeues: 0,
    ...(settings.auth ? { auth: { user: settings.auth.user, pass: settings.auth.pass } } : {}),
    requireTLS: settings.requireTLS,
    tls: { rejectUnauthorized: settings.tls.rejectUnauthorized, ...(settings.tls.servername ? { servername: settings.tls.servername } : {}) },
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  }) as Transporter;
  return {
    async send(mail, _fileName, ready) {
      const info = await transporter.sendMail(gated(mail, ready));
      return { response: String(info.response ?? ''), rejected: (info.rejected ?? []).map(String) };
    },
    async verify() {
      await transporter.verify();
    },
    async close() {
      transporter.close();
    },
  };
}

/** Writes each message to `<dir>/<fileName>`: a temp file, fsynced, renamed once `ready`. */
export async function fileTransport(dir: string): Promise<MailTransport> {
  const build = await mimeBuilder();
  await mkdir(dir, { recursive: true });
  return {
    async send(mail, fileName, ready) {
      const raw = await build(mail);
      const path = join(dir, fileName);
      const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        const fh = await open(temp, 'w');
        try {
          await fh.writeFile(raw);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await ready;
        await rename(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return { response: `written to ${path}`, rejected: [] };
    },
    async close() {},
  };
}

/** For a dry run: builds each message (so it meets the same errors) and throws it away. */
export async function discardTransport(): Promise<MailTransport> {
  const build = await mimeBuilder();
  return {
    async send(mail) {
      await build(mail);
      return { response: 'dry run: not sent', rejected: [] };
    },
    async close() {},
  };
}

/** What a failed send means for the record and the run. */
export type SendFailure =
  /** Try the message again later: an SMTP 4xx (421, 450, 451, 452…), 503, or a dropped connection. */
  | { readonly kind: 'transient'; readonly message: string; readonly responseCode?: number }
  /** The server refused this message for good (5xx to MAIL FROM, RCPT TO or DATA), or the message cannot be built. */
  | { readonly kind: 'rejected'; readonly message: string }
  /** Nothing will get through: authentication or TLS failed. */
  | { readonly kind: 'fatal'; readonly message: string };

const SESSION_COMMANDS = /^(CONN|EHLO|HELO|LHLO|STARTTLS|AUTH\b)/i;
const DROPPED = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'EPROTOCOL', 'EABORT', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED']);
const FATAL = new Set(['EAUTH', 'ENOAUTH', 'ETLS', 'EREQUIRETLS', 'ECONFIG', 'EPROXY', 'EOAUTH2']);

/** Sorts a nodemailer error into retry, reject the record, or stop. */
export function classify(error: unknown): SendFailure {
  const e = (error ?? {}) as NodemailerError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const reply = typeof e.response === 'string' && e.response !== '' ? e.response : undefined;
  const message = reply ?? (e instanceof Error ? e.message : String(error));
  if (typeof e.responseCode === 'number') {
    const permanent = typeof e.permanent === 'boolean' ? e.permanent : e.responseCode >= 500 && e.responseCode !== 503;
    if (!permanent) return { kind: 'transient', message, responseCode: e.responseCode };
    // A 5xx to the session itself (bad credentials, TLS required) is no fault of this record.
    if ((typeof e.command === 'string' && SESSION_COMMANDS.test(e.command)) || (code && FATAL.has(code))) return { kind: 'fatal', message };
    return { kind: 'rejected', message };
  }
  if (code && FATAL.has(code)) return { kind: 'fatal', message };
  if (code && DROPPED.has(code)) return { kind: 'transient', message: `${message} (${code})` };
  // Building the message failed (an attachment vanished, a header is malformed): this record's fault.
  return { kind: 'rejected', message };
}
