// The benchmark's transform, shared by the hand-written contenders (baseline, naive).
// Sluice runs the same thing as a filter + map job (see run.mjs), jq as
//   select(.amount > 50) | .name |= ascii_upcase | .tag = "big"
// Kept records keep their key order; `tag` is appended last — so every contender writes the same bytes.

/** Returns the transformed record, or null when the filter drops it. */
export function transform(record) {
  if (!(record.amount > 50)) return null;
  record.name = record.name.toUpperCase();
  record.tag = 'big';
  return record;
}
