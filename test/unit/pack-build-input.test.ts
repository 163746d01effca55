// What `bulkhead pack build` refuses before anything reaches the supervisor: a directory without a
// manifest (bad input, as a missing directory is), a manifest that is not JSON or breaks the schema
// (each problem named with its path), and a package.json without a lockfile (npm ci needs one: what
// goes into the image is reproducible), one where npm is not installed, and, with --installed,
// dependencies that are not exactly what `npm ci --omit=dev` installs from the lockfile.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
    // No manifest: bad input (exit 2) naming it, as a missing directory is, not a refused pack.
    const missing = await readPackManifest(dir).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) => e,
    );
    expect(isBulkheadError(missing, 'invalid_input')).toBe(true);
    expect((missing as Error).message).toBe(
      `${join(dir, 'bulkhead-pack.json')}: cannot read it: no such file or directory (ENOENT)`,
    );
    await writeFile(join(dir, 'bulkhead-pack.json'), '{ "name": ');
    expect(await refusal(readPackManifest(dir))).toMatch(/not JSON/);
    // One line per problem, each record key's refusal in its schema's own words (zod's layout said
    // "Invalid key in record" and dropped them).
    await writeFile(
      join(dir, 'bulkhead-pack.json'),
      JSON.stringify({
        ...manifest,
        name: 'my_notes',
        tools: { add: { effect: 'delete' }, 'add note': { effect: 'read' } },
      }),
    );
    expect(await refusal(readPackManifest(dir))).toBe(
      [
        'bulkhead-pack.json:',
        '  name: a pack name is 2-31 characters of a-z, 0-9 and "-", starting with a letter',
        '  tools.add.blastRadius: a write (effect other than read) needs a blastRadius statement',
        '  tools["add note"]: invalid key: a tool name is 1-64 characters of A-Z, a-z, 0-9, "_", "." and "-"',
      ].join('\n'),
    );
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
    await writeFile(
      join(dir, 'package-lock.json'),
      JSON.stringify({ name: 'notes', lockfileVersion: 3, packages: {} }),
    );
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

  describe('npm ci on this host runs nothing of the pack', () => {
    const registry = { version: '1.0.0', integrity: 'sha512-a' };
    /** A stand-in npm on the PATH that records its arguments: whether npm was run at all. */
    async function withNpm(run: () => Promise<unknown>): Promise<{ ran: string | undefined }> {
      const bin = await mkdtemp(join(tmpdir(), 'bulkhead-npm-'));
      const path = process.env.PATH;
      try {
        await writeFile(join(bin, 'npm'), `#!/bin/sh\necho "$@" > ${join(bin, 'ran')}\n`);
        await chmod(join(bin, 'npm'), 0o755);
        process.env.PATH = `${bin}:${path}`;
        await run();
        return { ran: await readFile(join(bin, 'ran'), 'utf8').catch(() => undefined) };
      } finally {
        process.env.PATH = path;
        await rm(bin, { recursive: true, force: true });
      }
    }
    async function pack(packages: Record<string, unknown>, npmrc?: string): Promise<void> {
      await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0' }));
      await writeFile(
        join(dir, 'package-lock.json'),
        JSON.stringify({ name: 'notes', lockfileVersion: 3, packages: { '': {}, ...packages } }),
      );
      if (npmrc !== undefined) await writeFile(join(dir, '.npmrc'), npmrc);
    }

    it('runs npm ci for registry packages, then asks the supervisor', async () => {
      await pack({ 'node_modules/a': registry });
      const supervisor = unaskedSupervisor();
      const { ran } = await withNpm(() =>
        expect(buildPack(supervisor, dir, () => undefined)).rejects.toThrow('not reached'),
      );
      expect(ran).toMatch(/^ci --omit=dev --ignore-scripts/);
      expect(supervisor.asked).toBe(true);
    });

    it("refuses the pack's .npmrc and git, path or link dependencies without running npm", async () => {
      const cases: [Record<string, unknown>, string | undefined, RegExp][] = [
        // npm obeys a project .npmrc: `git=` names the program it runs for a git dependency.
        [{ 'node_modules/a': registry }, 'git=./fetch.sh\n', /has an \.npmrc/],
        [
          { 'node_modules/dep': { version: '1.0.0', resolved: 'git+ssh://git@example.com/dep.git#abc' } },
          undefined,
          /node_modules\/dep \(git\+ssh/,
        ],
        [
          { 'node_modules/dep': { version: '1.0.0', resolved: 'file:../../dep' } },
          undefined,
          /file:\.\.\/\.\.\/dep/,
        ],
        [{ 'node_modules/dep': { resolved: '../dep', link: true } }, undefined, /outside a registry/],
      ];
      for (const [packages, npmrc, problem] of cases) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir);
        await pack(packages, npmrc);
        const supervisor = unaskedSupervisor();
        const { ran } = await withNpm(async () =>
          expect(await refusal(buildPack(supervisor, dir, () => undefined))).toMatch(problem),
        );
        expect(ran).toBeUndefined();
        expect(supervisor.asked).toBe(false);
      }
    });
  });

  describe('--installed: dependencies the operator installed, checked against the lockfile', () => {
    const a = { version: '1.0.0', integrity: 'sha512-a' };
    const lockfile = {
      name: 'notes',
      lockfileVersion: 3,
      packages: {
        '': { name: 'notes', version: '1.0.0' },
        'node_modules/a': a,
        'node_modules/d': { version: '2.0.0', integrity: 'sha512-d', dev: true },
        'node_modules/o': { version: '3.0.0', integrity: 'sha512-o', optional: true },
      },
    };
    /** The pack, with npm's record of what it installed: `installed`, or none. */
    async function pack(installed?: Record<string, unknown>): Promise<void> {
      await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'notes', version: '1.0.0' }));
      await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lockfile));
      if (!installed) return;
      await mkdir(join(dir, 'node_modules'));
      await writeFile(
        join(dir, 'node_modules', '.package-lock.json'),
        JSON.stringify({ name: 'notes', lockfileVersion: 3, packages: installed }),
      );
    }
    const build = (supervisor: Parameters<typeof buildPack>[0]) =>
      buildPack(supervisor, dir, () => undefined, { installed: true });

    it('builds what npm ci --omit=dev installed, without running npm (none on the PATH)', async () => {
      await pack({ 'node_modules/a': a });
      const supervisor = unaskedSupervisor();
      const path = process.env.PATH;
      process.env.PATH = dir;
      try {
        await expect(build(supervisor)).rejects.toThrow('not reached');
      } finally {
        process.env.PATH = path;
      }
      expect(supervisor.asked).toBe(true);
    });

    it('refuses another version, a development package, a missing one, or nothing installed', async () => {
      const cases: [Record<string, unknown> | undefined, RegExp][] = [
        [
          { 'node_modules/a': { ...a, version: '1.0.1' } },
          /node_modules\/a is 1\.0\.1, package-lock\.json says 1\.0\.0/,
        ],
        [{ 'node_modules/a': { ...a, integrity: 'sha512-other' } }, /node_modules\/a is 1\.0\.0/],
        [
          { 'node_modules/a': a, 'node_modules/d': lockfile.packages['node_modules/d'] },
          /node_modules\/d is a development dependency/,
        ],
        [
          { 'node_modules/a': a, 'node_modules/x': a },
          /node_modules\/x is installed but not in package-lock\.json/,
        ],
        [{}, /node_modules\/a is missing/],
        [undefined, /nothing was installed there .*npm ci --omit=dev --ignore-scripts/],
      ];
      for (const [installed, problem] of cases) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir);
        await pack(installed);
        const supervisor = unaskedSupervisor();
        expect(await refusal(build(supervisor))).toMatch(problem);
        expect(supervisor.asked).toBe(false);
      }
    });
  });
});
