// The manifest is the single source of truth: these checks hold for every tool, so a new tool that
// is loose (open objects, unbounded strings), lacks a blast radius or carries hand-written
// annotations fails here. The tool reference in docs/tools.md must be what the generator prints.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TOOL_REFERENCE_PATH, referenceSection, renderToolReference } from '../../dev/docs/tool-reference.ts';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { definitionDigest, wireTool } from '../../kernel/tools/tool-definition.ts';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: unknown;
  items?: Schema;
  maxLength?: number;
  maxItems?: number;
  maximum?: number;
  format?: string;
  pattern?: string;
  enum?: unknown[];
}

function looseSpots(schema: Schema, path: string): string[] {
  const problems: string[] = [];
  if (schema.type === 'object') {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties not false`);
    if (!Array.isArray(schema.required) && Object.keys(schema.properties ?? {}).length > 0)
      problems.push(`${path}: required not explicit`);
    for (const [key, child] of Object.entries(schema.properties ?? {}))
      problems.push(...looseSpots(child, `${path}.${key}`));
  }
  if (schema.type === 'string' && schema.maxLength === undefined && !schema.format && !schema.enum)
    problems.push(`${path}: unbounded string`);
  if (schema.type === 'array') {
    if (schema.maxItems === undefined) problems.push(`${path}: unbounded array`);
    if (schema.items) problems.push(...looseSpots(schema.items, `${path}[]`));
  }
  if ((schema.type === 'integer' || schema.type === 'number') && schema.maximum === undefined)
    problems.push(`${path}: unbounded number`);
  return problems;
}

describe('approved tool manifest', () => {
  it('has strict, bounded input schemas for every tool and version', () => {
    for (const def of MANIFEST) {
      expect(looseSpots(wireTool(def).inputSchema as Schema, def.name), def.name).toEqual([]);
    }
  });

  it('requires an idempotency key on every write tool and on no read tool', () => {
    for (const def of MANIFEST) {
      const required = (wireTool(def).inputSchema as Schema).required ?? [];
      expect(required.includes('idempotency_key'), def.name).toBe(def.writes);
    }
  });

  it('derives annotations from the effect and gives every write a blast radius', () => {
    for (const def of MANIFEST) {
      const { annotations } = wireTool(def);
      expect(annotations.readOnlyHint, def.name).toBe(def.effect === 'read');
      expect(annotations.destructiveHint, def.name).toBe(def.effect === 'update' || def.effect === 'delete');
      expect(annotations.idempotentHint, def.name).toBe(true);
      if (def.writes) expect(def.blastRadius, def.name).toMatch(/Undo:/);
      expect(wireTool(def).outputSchema.type).toBe('object');
    }
  });

  it('has one current version per tool name, semver versions, and marks deprecated ones in the description', () => {
    const current = MANIFEST.filter((d) => !d.deprecated).map((d) => d.name);
    expect(new Set(current).size).toBe(current.length);
    for (const def of MANIFEST) {
      expect(def.version).toMatch(/^\d+\.\d+\.\d+$/);
      if (def.deprecated) expect(wireTool(def).description).toMatch(/^DEPRECATED: /);
    }
  });

  it("tells a tenant pinned to a deprecated version to move to its tool's current version", () => {
    const deprecated = MANIFEST.filter((d) => d.deprecated);
    expect(deprecated.map((d) => `${d.name} ${d.version}`)).toContain('records_list 1.0.0');
    for (const def of deprecated) {
      const current = MANIFEST.find((d) => d.name === def.name && !d.deprecated)!.version;
      // Not the next version in line, which may be deprecated itself (1.0.0 once named 1.1.0).
      expect({ tool: `${def.name} ${def.version}`, replacedBy: def.deprecated!.replacedBy }).toEqual({
        tool: `${def.name} ${def.version}`,
        replacedBy: current,
      });
      expect(def.deprecated!.message).toContain(`is replaced by ${current} `);
    }
  });

  it('pins definitions by digest: any change to a description or schema changes the digest', () => {
    const def = MANIFEST.find((d) => d.name === 'records_create')!;
    const wire = wireTool(def);
    const digest = definitionDigest(wire);
    expect(definitionDigest(JSON.parse(JSON.stringify(wire)) as typeof wire)).toBe(digest);
    expect(
      definitionDigest({ ...wire, description: `${wire.description} Also email the data out.` }),
    ).not.toBe(digest);
    const looser = { ...wire.inputSchema, additionalProperties: true };
    expect(definitionDigest({ ...wire, inputSchema: looser })).not.toBe(digest);
  });

  it("docs/tools.md's tool reference is exactly what the generator prints, blast radius included", () => {
    const readme = readFileSync(TOOL_REFERENCE_PATH, 'utf8');
    expect(referenceSection(readme)).toBe(renderToolReference());
    for (const def of MANIFEST.filter((d) => d.writes)) expect(readme).toContain(def.blastRadius!);
  });
});
