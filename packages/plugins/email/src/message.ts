import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { ExpressionError, PermanentError, RecordError, type CompiledExpression, type PluginContext, type SluiceRecord } from '@sluice/core';
import type { MailComposerOptions } from 'nodemailer';
import { parseAddressList, shown } from './address.js';
import { messageIdOf } from './message-id.js';
import type { EmailOptions } from './options.js';
import { FieldTemplate, lineColumn, type FieldTemplateOptions } from './template.js';

type AddressField = 'from' | 'to' | 'cc' | 'bcc' | 'replyTo';

/** A message ready to send, and the key it is recorded under. */
export interface PreparedMessage {
  readonly key: string;
  /** `<hash>.eml`: the file transport's file name, the hash in the Message-ID. */
  readonly fileName: string;
  readonly mail: MailComposerOptions;
}

/**
 * Turns records into messages: every template compiled once when the sink starts (template files
 * read and checked then), rendered per record. Anything wrong with a record is a RecordError.
 */
export class MessageBuilder {
  private constructor(
    private readonly ctx: PluginContext,
    private readonly options: EmailOptions,
    private readonly key: CompiledExpression,
    private readonly addresses: ReadonlyArray<readonly [AddressField, FieldTemplate]>,
    private readonly subject: FieldTemplate,
    private readonly text: FieldTemplate | undefined,
    private readonly html: FieldTemplate | undefined,
    private readonly headers: ReadonlyArray<readonly [string, FieldTemplate]>,
    private readonly attachments: CompiledExpression | undefined,
    private readonly attachmentsRoot: string,
  ) {}

  /** Compiles every template; a template file that is missing or does not compile fails the start. */
  static async create(ctx: PluginContext, o: EmailOptions): Promise<MessageBuilder> {
    const plain: FieldTemplateOptions = { strict: o.strict };
    const addresses: Array<readonly [AddressField, FieldTemplate]> = [];
    for (const field of ['from', 'to', 'cc', 'bcc', 'replyTo'] as const) {
      const source = o.fields[field];
      if (source !== undefined) addresses.push([field, compileField(ctx, field, source, { strict: o.strict, list: true })]);
    }
    let text = o.fields.text !== undefined ? compileField(ctx, 'text', o.fields.text, plain) : undefined;
    if (o.textFile !== undefined) text = compileField(ctx, 'textFile', await readTemplateFile(ctx, 'textFile', o.textFile), plain, o.textFile);
    const htmlOptions = { strict: o.strict, escapeHtml: o.escapeHtml };
    let html = o.fields.html !== undefined ? compileField(ctx, 'html', o.fields.html, htmlOptions) : undefined;
    if (o.htmlFile !== undefined) html = compileField(ctx, 'htmlFile', await readTemplateFile(ctx, 'htmlFile', o.htmlFile), htmlOptions, o.htmlFile);
    return new MessageBuilder(
      ctx,
      o,
      ctx.expression(o.key),
      addresses,
      compileField(ctx, 'subject', o.fields.subject, plain),
      text,
      html,
      Object.entries(o.headers).map(([name, source]) => [name, compileField(ctx, `headers.${name}`, source, plain)] as const),
      o.attachments !== undefined ? ctx.expression(o.attachments) : undefined,
      ctx.resolvePath(o.attachmentsDir),
    );
  }

  private root: Promise<string> | undefined;

  /** attachmentsDir with its own links resolved (once; it may be created after the sink starts). */
  private realRoot(): Promise<string> {
    this.root ??= realpath(this.attachmentsRoot).catch(() => {
      this.root = undefined;
      return this.attachmentsRoot;
    });
    return this.root;
  }

  /** The record's key: a non-empty string or a number. */
  keyOf(record: SluiceRecord): string {
    let value: unknown;
    try {
      value = this.key.evaluate(record);
    } catch (error) {
      throw new RecordError(`email: key ${this.options.key} failed: ${(error as Error).message}`, undefined, { cause: error });
    }
    if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return String(value);
    const got = value === '' ? 'empty' : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    throw new RecordError(`email: key ${this.options.key} is ${got} for this record; every message needs a key (a string or number) so it is mailed once`);
  }

  /** Renders the message of a record whose key is `key`. */
  async build(key: string, record: SluiceRecord): Promise<PreparedMessage> {
    const { messageId, hash } = messageIdOf(this.ctx.job.name, key, this.options.messageIdDomain);
    const mail: MailComposerOptions = { messageId, subject: this.subject.render(record) };
    for (const [field, template] of this.addresses) {
      const rendered = template.render(record).trim();
      if (rendered === '') {
        if (field === 'from' || field === 'to') throw new RecordError(`email: ${field} is empty for this record (${template.source})`, { field });
        continue;
      }
      const parsed = parseAddressList(rendered);
      if ('invalid' in parsed) throw new RecordError(`email: ${field}: ${shown(parsed.invalid)} is not an email address`, { field });
      if (field === 'from') {
        if (parsed.mailboxes.length !== 1) throw new RecordError(`email: from must be one address, got ${parsed.mailboxes.length}`, { field });
        mail.from = parsed.mailboxes[0]!;
      } else {
        mail[field] = parsed.mailboxes;
      }
    }
    if (this.text) mail.text = this.text.render(record);
    if (this.html) mail.html = this.html.render(record);
    if (this.headers.length) mail.headers = Object.fromEntries(this.headers.map(([name, template]) => [name, template.render(record)]));
    if (this.attachments) mail.attachments = await this.attachmentsOf(record);
    return { key, fileName: `${hash}.eml`, mail };
  }

  private async attachmentsOf(record: SluiceRecord): Promise<NonNullable<MailComposerOptions['attachments']>> {
    let value: unknown;
    try {
      value = this.attachments!.evaluate(record);
    } catch (error) {
      throw new RecordError(`email: attachments ${this.options.attachments} failed: ${(error as Error).message}`, undefined, { cause: error });
    }
    if (value === null || value === undefined) return [];
    const out: NonNullable<MailComposerOptions['attachments']> = [];
    for (const item of Array.isArray(value) ? value : [value]) {
      const spec = typeof item === 'string' ? { path: item } : item && typeof item === 'object' ? (item as Record<string, unknown>) : undefined;
      if (!spec || typeof spec.path !== 'string' || spec.path === '') {
        throw new RecordError(`email: attachments: each item must be a path or { path, filename?, contentType? } (got ${JSON.stringify(item)})`);
      }
      const path = spec.path;
      const absolute = resolve(this.attachmentsRoot, path);
      // Records choose the files: they may only pick from attachmentsDir, not anywhere on the machine.
      const outside = () => new RecordError(`email: attachment ${shown(path)} is outside attachmentsDir (${this.options.attachmentsDir})`);
      if (!within(this.attachmentsRoot, absolute)) throw outside();
      // A symbolic link (the file or a folder on the way) may lead out: what counts is where it ends.
      let real: string | undefined;
      try {
        real = await realpath(absolute);
        if (!(await stat(real)).isFile()) real = undefined;
      } catch {
        // reported below
      }
      if (real === undefined) throw new RecordError(`email: attachment ${shown(path)} does not exist (looked at ${absolute})`);
      if (!within(await this.realRoot(), real)) throw outside();
      out.push({
        // The resolved path: a link swapped after this check cannot change what is read.
        path: real,
        filename: typeof spec.filename === 'string' ? spec.filename : basename(absolute),
        ...(typeof spec.contentType === 'string' ? { contentType: spec.contentType } : {}),
      });
    }
    return out;
  }
}

/** Whether `path` is `root` or lies under it (both absolute). */
function within(root: string, path: string): boolean {
  const inside = relative(root, path);
  return !(inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside));
}

async function readTemplateFile(ctx: PluginContext, option: string, path: string): Promise<string> {
  const absolute = ctx.resolvePath(path);
  try {
    return await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${(error as Error).message})`;
    throw new PermanentError(`email: ${option} ${path} ${why} (looked at ${absolute}); paths are relative to the job file`, { cause: error });
  }
}

function compileField(ctx: PluginContext, field: string, source: string, options: FieldTemplateOptions, file?: string): FieldTemplate {
  try {
    return FieldTemplate.compile(ctx, field, source, options);
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    if (file) {
      const { line, col } = lineColumn(source, error.offset);
      throw new PermanentError(`email: ${file}:${line}:${col}  invalid template: ${error.message}`, { cause: error });
    }
    throw new PermanentError(`email: ${field}: invalid template: ${error.message}`, { cause: error });
  }
}
