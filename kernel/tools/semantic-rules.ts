// Semantic rules: what a schema cannot say. Shared by the router (which rejects before dispatch) and
// the tenant runtime (which re-checks and counts anything that got through, so tests can prove
// nothing invalid ever reached a container).
import type { SemanticIssue, SemanticValidator } from './tool-definition.ts';

/** Dates an agent may plausibly mean; 9999-12-31 style sentinels and typos like 20255 are refused. */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2199;

function get(args: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => {
    if (value === null || typeof value !== 'object') return undefined;
    return (value as Record<string, unknown>)[key];
  }, args);
}

export function dateInRange(path: string): SemanticValidator {
  return (args) => {
    const value = get(args, path);
    if (typeof value !== 'string') return [];
    const year = Number(value.slice(0, 4));
    if (year >= MIN_YEAR && year <= MAX_YEAR) return [];
    return [
      {
        path,
        code: 'date_out_of_range',
        message: `${path} must be a date between ${MIN_YEAR} and ${MAX_YEAR}, got ${value}`,
      },
    ];
  };
}

export function datesOrdered(startPath: string, endPath: string): SemanticValidator {
  return (args) => {
    const start = get(args, startPath);
    const end = get(args, endPath);
    if (typeof start !== 'string' || typeof end !== 'string' || start <= end) return [];
    return [
      {
        path: startPath,
        code: 'date_order',
        message: `${startPath} (${start}) is after ${endPath} (${end})`,
      },
    ];
  };
}

export function notNegative(path: string): SemanticValidator {
  return (args) => {
    const value = get(args, path);
    if (typeof value !== 'number' || value >= 0) return [];
    return [{ path, code: 'negative_quantity', message: `${path} must not be negative, got ${value}` }];
  };
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A value that may become a file name or a subprocess argument: one plain segment, nothing else. */
export function checkSafeSegment(path: string, value: unknown): SemanticIssue[] {
  if (typeof value !== 'string') return [];
  if (value.includes('..') || value.includes('/') || value.includes('\\') || /%2e|%2f|%5c/i.test(value)) {
    return [{ path, code: 'path_traversal', message: `${path} must be a single name, not a path` }];
  }
  if (!SAFE_SEGMENT.test(value)) {
    return [
      {
        path,
        code: 'unsafe_characters',
        message: `${path} may hold letters, digits, ".", "_" and "-" only, starting with a letter or digit`,
      },
    ];
  }
  return [];
}

export function safeSegment(path: string): SemanticValidator {
  return (args) => checkSafeSegment(path, get(args, path));
}

/** Applies an item rule to every element of an array argument, with the index in the path. */
export function eachItem(arrayPath: string, rules: readonly SemanticValidator[]): SemanticValidator {
  return (args) => {
    const items = get(args, arrayPath);
    if (!Array.isArray(items)) return [];
    return items.flatMap((item, index) =>
      item !== null && typeof item === 'object'
        ? rules
            .flatMap((rule) => rule(item as Record<string, unknown>))
            .map((issue) => ({ ...issue, path: `${arrayPath}.${index}.${issue.path}` }))
        : [],
    );
  };
}

// C0 controls other than tab/newline/CR, DEL, and bidirectional overrides (which disguise text).
const UNSAFE_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;

/** Applies to every string of every call: no control characters or bidi overrides anywhere. */
export function controlCharacterIssues(value: unknown, path = ''): SemanticIssue[] {
  if (typeof value === 'string') {
    return UNSAFE_TEXT.test(value)
      ? [{ path, code: 'unsafe_characters', message: `${path || 'value'} contains control characters` }]
      : [];
  }
  if (Array.isArray(value))
    return value.flatMap((v, i) => controlCharacterIssues(v, path ? `${path}.${i}` : `${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [
      ...controlCharacterIssues(k, path),
      ...controlCharacterIssues(v, path ? `${path}.${k}` : k),
    ]);
  }
  return [];
}
