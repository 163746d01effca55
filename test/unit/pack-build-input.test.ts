// What `bulkhead pack build` refuses before anything reaches the supervisor: a directory without a
// manifest, a manifest that is not JSON or breaks the schema (each problem named with its path), and
// a package.json without a lockfile (npm ci needs one: what goes into the image is reproducible), and
// one where npm is not installed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { buildPack, readPackManifest } from '../../tenants/control-plane/packs.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-pack-input-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifest = {
  name: 'notes',
  version: '1.0.0',
  command: ['python3', '/opt/bulkhead/packs/notes/server.py'],
  tools: { add: { effect: 'create', blastRadius: 'Appends one note and nothing else.' } },
};

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  );
  expect(isBulkheadError(error, 'pack_rejected')).toBe(true);
  return (error as Error).message;
}

/** The supervisor's side of a build, which these refusals must never reach. */
function unaskedSupervisor(): Parameters<typeof buildPack>[0] & { asked: boolean } {
  const supervisor = {
    asked: false,
    packs: {
      build: () => {
        supervisor.asked = true;
        return Promise.reject(new Error('not reached'));
      },
    } as unknown as Parameters<typeof buildPack>[0]['packs'],
  };
  return supervisor;
}

describe('pack build input', () => {
  it('names a missing manifest, one that is not JSON, and each schema problem with its path', async () => {
    expect(await refusal(readPackManifest(dir))).toMatch(/has no bulkhead-pack\.json/);
    await writeFile(join(dir, 'bulkhead-pack.json'), '{ "name": ');
    expect(await refusal(readPackManifest(dir))).toMatch(/not JSON/);
    await writeFile(
      join(dir, 'bulkhead-pack.json'),
      JSON.stringify({ ...manifest, name: 'my_notes', tools: { add: { effect: 'delete' } } }),
    );
    const message = await refusal(readPackManifest(dir));
    expect(message).toMatch(/name/);
    expect(message).toMatch(/tools\.add\.blastRadius/);
    await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
    expect((await readPackManifest(dir)).idempotency).toBe('runtime');
  });

  it('refuses a package.json without a lockfile before asking the supervisor to build', async () => {
    await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0' }));
    const supervisor = unaskedSupervisor();
    expect(await refusal(buildPack(supervisor, dir, () => undefined))).toMatch(/no package-lock\.json/);
    expect(supervisor.asked).toBe(false);
  });

  it('says so when npm is not installed (the compose CLI), before asking the supervisor to build', async () => {
    await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0' }));
    await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name: 'notes', lockfileVersion: 3 }));
    const supervisor = unaskedSupervisor();
    // A PATH with no npm on it: the directory holds nothing else.
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      expect(await refusal(buildPack(supervisor, dir, () => undefined))).toMatch(/npm is not installed here/);
    } finally {
      process.env.PATH = path;
    }
    expect(supervisor.asked).toBe(false);
  });
});
