// A field-level diff of two tenant records, for `apply` (shown before anything is written) and for
// the registry's change log (what each change did).

export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function diffValues(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffValues(before[key], after[key], path ? `${path}.${key}` : key));
  }
  // Arrays compare as a whole: tool pins and issuers are small, and order is meaningful to operators.
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || '.', from: before, to: after }];
}

export function formatChanges(changes: FieldChange[]): string[] {
  const show = (value: unknown): string => (value === undefined ? '(absent)' : JSON.stringify(value));
  return changes.map((c) => `  ~ ${c.path}: ${show(c.from)} -> ${show(c.to)}`);
}
