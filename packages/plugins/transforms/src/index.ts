import { dedupe } from './dedupe.js';
import { filter } from './filter.js';
import { map } from './map.js';
import { validate } from './validate.js';

export { dedupe, dedupeSchema, type DedupeConfig } from './dedupe.js';
export { filter, filterSchema, type FilterConfig } from './filter.js';
export { map, mapSchema, mapRules, type MapConfig } from './map.js';
export { validate, validateSchema, validateRules, type ValidateConfig, type RecordProblem } from './validate.js';

// A tuple, not an array: widening the four schema-typed definitions to one element type (or annotating
// with AnyPluginDefinition) makes the compiler expand FromSchema<any> and give up (TS2589).
const plugins = [map, filter, validate, dedupe] as const;
export default plugins;
