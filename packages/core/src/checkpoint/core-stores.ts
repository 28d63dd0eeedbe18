import { isAbsolute, resolve } from 'node:path';
import { defineCheckpointStore } from '../plugin/extensions.js';
import { FileCheckpointStore, NoCheckpointStore } from './file-store.js';

/** `checkpoint: { store: file, path }`: JSON files beside the job (the default). */
export const fileStore = defineCheckpointStore({
  name: 'file',
  description: 'Checkpoints as JSON files in a folder beside the job file (the default).',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      path: { type: 'string', default: '.sluice/checkpoints', description: 'File store: folder, relative to the job file.' },
    },
  },
  create: ({ config, dir, job, partition }) =>
    new FileCheckpointStore(isAbsolute(config.path) ? config.path : resolve(dir, config.path), partition === undefined ? job : `${job}.p${partition}`),
});

/** `checkpoint: { store: none }`: nothing is remembered. */
export const noStore = defineCheckpointStore({
  name: 'none',
  description: 'No checkpoint: every run starts from the beginning.',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  create: () => new NoCheckpointStore(),
});
