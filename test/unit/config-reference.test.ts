// docs/configuration.md is what the configuration declarations generate: a changed default, variable
// or description fails here until `node dev/docs/config-reference.ts --write` is run.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_REFERENCE_PATH,
  PROCESS_CONFIGS,
  renderConfigReference,
} from '../../dev/docs/config-reference.ts';

describe('docs/configuration.md', () => {
  it('is the reference the declarations generate', () => {
    expect(readFileSync(CONFIG_REFERENCE_PATH, 'utf8')).toBe(renderConfigReference());
  });

  it('lists every environment variable of every declaration', () => {
    const text = renderConfigReference();
    const variables = PROCESS_CONFIGS.flatMap((config) => Object.values(config.fields).map((f) => f.env));
    expect(variables.length).toBeGreaterThan(3);
    for (const variable of variables) if (variable) expect(text).toContain(`\`${variable}\``);
  });
});
