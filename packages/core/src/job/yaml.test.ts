import { describe, expect, it } from 'vitest';
import { MAX_ALIAS_EXPANSION } from './aliases.js';
import { parseYaml } from './yaml.js';

/** Ten-fold nesting, `levels` deep: the classic "billion laughs". */
function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

describe('YAML aliases', () => {
  it.each<[string, string, number, number, string]>([
    ['an alias bomb', aliasBomb(9), 4, 45, `aliases expand to more than ${MAX_ALIAS_EXPANSION} values`],
    ['an alias inside its own anchor', 'name: x\nloop: &a { self: *a }\n', 2, 18, 'alias *a is inside its own anchor &a'],
    ['an alias with no anchor', 'name: x\nsource: *nope\n', 2, 9, 'alias *nope has no anchor &nope before it'],
  ])('refuses %s with one diagnostic at the alias', (_name, text, line, col, message) => {
    const parsed = parseYaml(text, 'job.yaml');
    expect(parsed.value).toBeUndefined();
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: 'error', line, col });
    expect(parsed.diagnostics[0]!.message).toContain(message);
    expect(parsed.diagnostics[0]!.hint).toEqual(expect.any(String));
  });

  it('keeps aliases a job really uses: a shared block reused many times', () => {
    const steps = Array.from({ length: 200 }, (_, i) => `  - { id: s${i}, retry: *retry }`).join('\n');
    const parsed = parseYaml(`defaults: &retry { attempts: 5, initialDelay: 1s }\nsteps:\n${steps}\n`, 'job.yaml');
    expect(parsed.diagnostics).toEqual([]);
    const value = parsed.value as { steps: Array<{ retry: unknown }> };
    expect(value.steps).toHaveLength(200);
    expect(value.steps[199]!.retry).toEqual({ attempts: 5, initialDelay: '1s' });
  });
});
