import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig, RecordError, runTransform } from '@sluice/core';
import plugin from './index.js';

const order = { id: 7, items: [{ sku: 'a', price: 2.5, qty: 2 }, { sku: 'b', price: 1, qty: 3 }] };

test('stores a computed value in a field', async () => {
  const out = await runTransform(plugin, { expression: '$sum(items.(price * qty))', into: 'total' }, [order]);
  assert.deepEqual(out, [{ ...order, total: 8 }]);
});

test('replaces the record with an object result, and reads bindings', async () => {
  const out = await runTransform(plugin, { expression: '{ "id": id, "gross": $sum(items.(price * qty)) * $rate }', bindings: { rate: 2 } }, [order]);
  assert.deepEqual(out, [{ id: 7, gross: 16 }]);
});

test('splits a record into several, and drops one with no result', async () => {
  const split = await runTransform(plugin, { expression: 'items.{ "order": %.id, "sku": sku }' }, [order]);
  assert.deepEqual(split, [{ order: 7, sku: 'a' }, { order: 7, sku: 'b' }]);
  const kept = await runTransform(plugin, { expression: '$[status = "active"]' }, [{ status: 'active' }, { status: 'gone' }]);
  assert.deepEqual(kept, [{ status: 'active' }]);
});

test('fails a record whose expression throws with a record error (not retried)', async () => {
  await assert.rejects(runTransform(plugin, { expression: '$number(code)', into: 'n' }, [{ code: 'x1' }]), RecordError);
});

test('a broken expression fails validation, before any record is read', () => {
  const problems = checkConfig(plugin, { expression: '$sum(items.(price * ' });
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.path, 'expression');
  assert.match(problems[0]!.message, /^invalid JSONata at \d+: /);
  assert.deepEqual(checkConfig(plugin, { expression: 'a', bogus: 1 }), [{ path: 'bogus', message: "unknown key 'bogus'" }]);
});
