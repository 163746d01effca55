// The reference pack (the records tools): its shipped manifest states exactly the router's
// definitions, its approvals pinned in code are the router's digests, no operator pack can take its
// name (neither at approval nor in an enabled.json), and a records database at the volume's root
// moves into its directory once, never over one already there.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PackManifestSchema,
  REFERENCE_PACK,
  ReferencePackManifestSchema,
} from '../../kernel/packs/pack-manifest.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/records.ts';
import { definitionDigest, wireTool } from '../../kernel/tools/tool-definition.ts';
import { readEnabledPacks } from '../../runtime-image/src/packs/pack-host.ts';
import { moveLegacyRecords } from '../../runtime-image/src/packs/legacy-records.ts';
import { readReferencePack } from '../../runtime-image/src/packs/reference-pack.ts';

const SHIPPED = join(import.meta.dirname, '../../runtime-image/src/records-pack');

const scratchDirs: string[] = [];

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-reference-pack-'));
  scratchDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the reference pack', () => {
  it("ships a manifest that states the router's records tools, approved with the router's digests", () => {
    const { pack } = readReferencePack(SHIPPED, { idempotencyWindowMs: 1234 });
    expect(pack.name).toBe(REFERENCE_PACK);
    expect(pack.idempotency).toBe('pack');
    expect(pack.command.at(-1)).toBe('--idempotency-window-ms=1234');
    expect(pack.tools).toEqual(
      RECORDS_TOOLS.map((def) => ({
        name: def.name,
        exposed: def.name,
        effect: def.effect,
        digest: definitionDigest(wireTool(def)),
      })),
    );
  });

  it("refuses a manifest whose statements differ from the router's definitions", async () => {
    const dir = await scratch();
    await cp(SHIPPED, dir, { recursive: true });
    const file = join(dir, 'bulkhead-pack.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as {
      tools: Record<string, { effect: string; scopes: string[] }>;
    };
    manifest.tools.records_delete!.scopes = ['records:read'];
    await writeFile(file, JSON.stringify(manifest));
    expect(() => readReferencePack(dir, { idempotencyWindowMs: 1 })).toThrow(/does not state/);
  });

  it('keeps its name from operator packs: refused at approval and left out of an enabled.json', async () => {
    const manifest = JSON.parse(await readFile(join(SHIPPED, 'bulkhead-pack.json'), 'utf8')) as object;
    expect(ReferencePackManifestSchema.safeParse(manifest).success).toBe(true);
    expect(PackManifestSchema.safeParse(manifest).success).toBe(false);
    expect(ReferencePackManifestSchema.safeParse({ ...manifest, name: 'notes' }).success).toBe(false);
    const dir = await scratch();
    const entry = { version: '1.0.0', command: ['node', 'x.mjs'], tools: [] };
    await writeFile(
      join(dir, 'enabled.json'),
      JSON.stringify({
        packs: [
          { ...entry, name: 'records' },
          { ...entry, name: 'notes' },
        ],
      }),
    );
    expect(readEnabledPacks(dir).map((pack) => pack.name)).toEqual(['notes']);
  });

  it("moves a records database at the volume's root, with its WAL, into the pack's directory once", async () => {
    const data = await scratch();
    await writeFile(join(data, 'records.db'), 'db');
    await writeFile(join(data, 'records.db-wal'), 'wal');
    expect(moveLegacyRecords(data, REFERENCE_PACK)).toBe(true);
    const dir = join(data, 'packs', 'records');
    expect(await readFile(join(dir, 'records.db'), 'utf8')).toBe('db');
    expect(await readFile(join(dir, 'records.db-wal'), 'utf8')).toBe('wal');
    expect(existsSync(join(data, 'records.db'))).toBe(false);
    expect(existsSync(join(data, 'records.db-wal'))).toBe(false);
    // A database already in the pack's directory is never overwritten by a stray one.
    await writeFile(join(data, 'records.db'), 'stray');
    expect(moveLegacyRecords(data, REFERENCE_PACK)).toBe(false);
    expect(await readFile(join(dir, 'records.db'), 'utf8')).toBe('db');
    // Nothing to move: nothing made.
    const empty = await scratch();
    await mkdir(join(empty, 'packs'));
    expect(moveLegacyRecords(empty, REFERENCE_PACK)).toBe(false);
    expect(existsSync(join(empty, 'packs', 'records'))).toBe(false);
  });
});
