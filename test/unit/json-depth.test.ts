// A JSON text's nesting, read before the router parses a request body or a runtime's answer
// (kernel/wire/json-depth.ts).
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../kernel/wire/json-depth.ts';

const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('nestsDeeperThan', () => {
  it('counts arrays and objects inside one another, not side by side', () => {
    expect(nestsDeeperThan(nested(64), 64)).toBe(false);
    expect(nestsDeeperThan(nested(65), 64)).toBe(true);
    expect(nestsDeeperThan(`[${Array.from({ length: 100 }, () => '{"a":[1]}').join(',')}]`, 3)).toBe(false);
    expect(nestsDeeperThan('{"a":{"b":{"c":{}}}}', 3)).toBe(true);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    const inString = JSON.stringify({ text: nested(100), quoted: '"[[[[', tail: '\\' });
    expect(nestsDeeperThan(inString, 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify([{ text: '\\"' }, [[[]]]]), 3)).toBe(true);
    // A string ending in escaped backslashes ends at its quote: what follows is counted.
    expect(nestsDeeperThan(JSON.stringify(['\\\\', [[[]]]]), 3)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify(['\\\\"[[[[', [[]]]), 3)).toBe(false);
  });
});
