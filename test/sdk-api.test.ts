import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as core from '@sluice/core';
import * as testing from '@sluice/core/testing';
import { ROOT } from './support/cli.js';

/** The public API of `@sluice/core`: adding to it is a decision, so this list is spelled out. */
const VALUES = [
  'CheckpointLockedError',
  'MemoryLogger',
  'PLUGIN_API_VERSION',
  'ExpressionError',
  'PermanentError',
  'RecordError',
  'Redactor',
  'StartupRefusal',
  'TransientError',
  'captureSink',
  'checkConfig',
  'collectSource',
  'createTestContext',
  'isStale',
  'lockHolder',
  'parseHolder',
  'pauseForLock',
  'positionsArray',
  'defineCheckpointStore',
  'defineConnectionKind',
  'defineSink',
  'defineSource',
  'defineTransform',
  'runTransform',
  'systemClock',
  'withDefaults',
  'writeSink',
].sort();

const TYPES = [
  'AnyPluginDefinition',
  'BatchInfo',
  'BatchTransformResult',
  'CapturedSink',
  'Checkpoint',
  'CheckpointConfig',
  'CheckpointLock',
  'CheckpointStore',
  'CheckpointStoreDefinition',
  'CheckpointStoreFactory',
  'CheckpointStoreOptions',
  'Clock',
  'CompiledExpression',
  'CompiledTemplate',
  'ConfigOf',
  'ConfigProblem',
  'ConnectionConfig',
  'ConnectionKindDefinition',
  'ConnectionRegistry',
  'ExpressionScope',
  'JobCounters',
  'JobInfo',
  'Ledger',
  'LockHolder',
  'LockOptions',
  'LogLevel',
  'Logger',
  'OpenedConnection',
  'PluginContext',
  'PluginKind',
  'PluginSchema',
  'PositionList',
  'RawPage',
  'ReadOptions',
  'RecordInfo',
  'RecordPosition',
  'RetryNotice',
  'RuleViolation',
  'SinkDefinition',
  'SinkGuarantee',
  'SinkInstance',
  'SluiceRecord',
  'SourceDefinition',
  'SourceEstimate',
  'SourceInstance',
  'SourcePage',
  'SourceRecordError',
  'StepCounters',
  'TemplateOptions',
  'TestContextOptions',
  'TransformDefinition',
  'TransformInstance',
  'WrittenConfigOf',
  'TransformResult',
  'WriteInfo',
  'WriteResult',
].sort();

/** Every export of the entry point as the compiler sees it, with its TSDoc. */
function exportsOf(entry: string): Array<{ name: string; doc: string; isType: boolean }> {
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(entry)!;
  const moduleSymbol = checker.getSymbolAtLocation(file)!;
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
    const isType = !(target.flags & ts.SymbolFlags.Value);
    return { name: symbol.getName(), doc, isType };
  });
}

describe('@sluice/core public API', () => {
  const entry = join(ROOT, 'packages/core/src/index.ts');
  const exported = exportsOf(entry);

  it('exports exactly the plugin-author API, values and types', () => {
    expect(Object.keys(core).sort()).toEqual(VALUES);
    expect(exported.filter((e) => !e.isType).map((e) => e.name).sort()).toEqual(VALUES);
    expect(exported.filter((e) => e.isType).map((e) => e.name).sort()).toEqual(TYPES);
  });

  it('documents every export with TSDoc', () => {
    const undocumented = exported.filter((e) => e.doc.length < 10).map((e) => e.name);
    expect(undocumented).toEqual([]);
  });

  it('keeps the engine out: nothing of @sluice/core/internal is reachable from the root', async () => {
    const internal = await import('@sluice/core/internal');
    const leaked = Object.keys(internal).filter((name) => name in core && (core as Record<string, unknown>)[name] !== undefined && !VALUES.includes(name));
    expect(leaked).toEqual([]);
    for (const name of ['JobRun', 'Pipeline', 'loadJob', 'PluginRegistry', 'EventBus', 'FileCheckpointStore']) expect(name in core).toBe(false);
  });

  it('offers the testing helpers at @sluice/core/testing too', () => {
    for (const name of ['runTransform', 'collectSource', 'writeSink', 'captureSink', 'checkConfig', 'createTestContext', 'MemoryLogger']) {
      expect((testing as Record<string, unknown>)[name]).toBe((core as Record<string, unknown>)[name]);
    }
  });
});
