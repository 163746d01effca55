// The pack naming rule: names of different packs never collide (property), the pack of an exposed
// name is the text before its first "_", and one pack's own tools that would share a name are refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PackManifestSchema, PackNameSchema } from '../../kernel/packs/pack-manifest.ts';
import { exposedName, exposedNames, packOfExposed } from '../../kernel/packs/pack-naming.ts';

const packName = fc
  .stringMatching(/^[a-z][a-z0-9-]{1,30}$/)
  .filter((name) => PackNameSchema.safeParse(name).success);
const toolName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);

describe('pack naming', () => {
  it('never gives tools of two different packs the same exposed name', () => {
    fc.assert(
      fc.property(packName, packName, toolName, toolName, (p, q, t, u) => {
        fc.pre(p !== q);
        expect(exposedName(p, t)).not.toBe(exposedName(q, u));
        expect(packOfExposed(exposedName(p, t))).toBe(p);
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps a name already prefixed with its pack, prefixes any other', () => {
    expect(exposedName('files', 'files_read')).toBe('files_read');
    expect(exposedName('files', 'read_file')).toBe('files_read_file');
    expect(exposedName('files', 'filesystem_info')).toBe('files_filesystem_info');
    expect(() => exposedName('bad_pack', 'x')).toThrow();
    // A pack may not take the first word of a built-in tool: records_create stays the built-in's.
    expect(() => exposedName('records', 'create')).toThrow();
  });

  it("refuses one pack's tools that would be seen under one name", () => {
    expect(() => exposedNames('files', ['read', 'files_read'])).toThrow(/both be seen as "files_read"/);
    expect([...exposedNames('files', ['read', 'write'])]).toEqual([
      ['read', 'files_read'],
      ['write', 'files_write'],
    ]);
  });

  it('requires a blast radius for every write in a manifest', () => {
    const manifest = { name: 'notes', version: '1.0.0', command: ['python3', 'server.py'] };
    expect(PackManifestSchema.safeParse({ ...manifest, tools: { add: { effect: 'create' } } }).success).toBe(
      false,
    );
    expect(PackManifestSchema.safeParse({ ...manifest, tools: { get: { effect: 'read' } } }).success).toBe(
      true,
    );
    expect(PackManifestSchema.safeParse({ ...manifest, name: 'my_notes', tools: {} }).success).toBe(false);
  });
});
