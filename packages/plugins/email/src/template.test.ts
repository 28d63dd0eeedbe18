// Message fields on core's template engine, with the options email needs.
import { createTestContext, ExpressionError, RecordError, type SluiceRecord } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { FieldTemplate } from './template.js';

const ctx = createTestContext();
const compile = (source: string, options = { strict: true }) => FieldTemplate.compile(ctx, 'subject', source, options);

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
    const html = FieldTemplate.compile(ctx, 'html', '<p>{{ record.x }}</p>', { strict: true, escapeHtml: true });
    expect(html.render({ x: `<script>"&'` })).toBe('<p>&lt;script&gt;&quot;&amp;&#39;</p>');
    const to = FieldTemplate.compile(ctx, 'to', '{{ record.to }}', { strict: true, list: true });
    expect(to.render({ to: ['a@x.test', 'b@x.test'] })).toBe('a@x.test, b@x.test');
  });
});

describe('templates that do not compile', () => {
  it.each([
    ['Hi {{ record.name', /unclosed `\{\{`/, 3],
    ['Hi {{ }}', /empty `\{\{ \}\}`/, 3],
    ['a\n{{ process.exit() }}', /process/, 5],
  ])('%j is an ExpressionError at its offset', (source, message, offset) => {
    let error: unknown;
    try {
      compile(source);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExpressionError);
    expect((error as Error).message).toMatch(message);
    expect((error as ExpressionError).offset).toBe(offset);
  });
});
