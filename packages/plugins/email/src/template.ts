import { RecordError, type CompiledTemplate, type PluginContext, type SluiceRecord } from '@sluice/core';

export interface FieldTemplateOptions {
  /** A `{{ }}` whose value is null or undefined is a record error instead of empty text. */
  readonly strict: boolean;
  /** Escape `& < > " '` in interpolated values (HTML bodies). */
  readonly escapeHtml?: boolean;
  /** An array value renders as a comma-separated list (address fields). */
  readonly list?: boolean;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * A `{{ expression }}` template of one message field, on core's template engine (`ctx.template`
 * with the options a message needs: strict, lists, HTML escaping). What a failure says names the
 * field, the expression and, for strict mode, the way out. A template that does not compile
 * throws core's `ExpressionError`, whose `offset` points into the template text.
 */
export class FieldTemplate {
  private constructor(
    readonly field: string,
    readonly source: string,
    private readonly template: CompiledTemplate,
  ) {}

  static compile(ctx: PluginContext, field: string, source: string, options: FieldTemplateOptions): FieldTemplate {
    const template = ctx.template(source, { strict: options.strict, ...(options.list ? { list: true } : {}), ...(options.escapeHtml ? { escape: escapeHtml } : {}) });
    return new FieldTemplate(field, source, template);
  }

  /** Renders the field for a record; throws a RecordError naming the field and expression. */
  render(record: SluiceRecord): string {
    try {
      return this.template.render(record);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      const details = error.details ?? {};
      const expression = String(details.expression ?? '');
      const hint = details.value
        ? ` (strict: true); give it a default, e.g. {{ ${expression} ?? '' }}, or set strict: false to render it empty`
        : '';
      throw new RecordError(`${this.field}: ${error.message}${hint}`, { field: this.field }, { cause: error });
    }
  }
}

/** 1-based line and column of an offset into a text. */
export function lineColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}
