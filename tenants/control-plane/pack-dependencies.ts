// A pack's npm dependencies, on this host, before the supervisor builds its image (which fetches
// nothing): installed here with `npm ci --omit=dev --ignore-scripts`, or, where npm or the registry
// is not at hand (the compose CLI has neither: docs/compose.md, "Tool packs"), installed by the
// operator beforehand and checked here against the lockfile.
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { packRejected } from '../../kernel/packs/pack-manifest.ts';
import { jsonOrUndefined } from '../../kernel/wire/json-text.ts';
import type { Progress } from './context.ts';

const run = promisify(execFile);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The install command, named in messages as the operator would type it. */
export const NPM_CI = 'npm ci --omit=dev --ignore-scripts';

/** A package-lock.json, or npm's record of what it installed (node_modules/.package-lock.json). */
const LockfileSchema = z.looseObject({
  packages: z.record(
    z.string(),
    z.looseObject({
      version: z.string().optional(),
      integrity: z.string().optional(),
      dev: z.boolean().optional(),
      optional: z.boolean().optional(),
      devOptional: z.boolean().optional(),
      resolved: z.string().optional(),
      link: z.boolean().optional(),
    }),
  ),
});
type Lockfile = z.infer<typeof LockfileSchema>;

/** `missing`: the refusal when the file cannot be read. */
async function readLockfile(file: string, missing: string): Promise<Lockfile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw packRejected(missing);
  }
  const parsed = LockfileSchema.safeParse(jsonOrUndefined(text));
  if (!parsed.success) throw packRejected(`${file}: not an npm lockfile (lockfileVersion 2 or 3)`);
  return parsed.data;
}

/** A package.json needs its lockfile: what goes into the image must be reproducible. */
async function needsDependencies(dir: string): Promise<boolean> {
  if (!(await exists(join(dir, 'package.json')))) return false;
  if (!(await exists(join(dir, 'package-lock.json'))))
    throw packRejected(
      `${dir} has a package.json but no package-lock.json: run "npm install" there once and keep the lockfile`,
    );
  return true;
}

/**
 * What npm would obey in the pack's own files beyond the lockfile's registry packages, refused
 * before npm runs: the directory is the pack author's, and `--ignore-scripts` stops lifecycle
 * scripts only. An `.npmrc` there is npm's project configuration: its `git` setting names the
 * program npm runs to fetch a git dependency (the pack's own, say). A git dependency is cloned
 * with this host's git and prepared by npm, and a local path or link reaches outside the
 * directory: neither is a registry package the lockfile pins by integrity.
 */
async function refuseForeignSources(dir: string): Promise<void> {
  if (await exists(join(dir, '.npmrc')))
    throw packRejected(
      `${dir} has an .npmrc: npm would take it as configuration on this host; remove it (settings of your own go in your user .npmrc)`,
    );
  const lock = await readLockfile(join(dir, 'package-lock.json'), `${dir}: package-lock.json unreadable`);
  const foreign = Object.entries(lock.packages).filter(
    ([path, entry]) =>
      path !== '' &&
      (entry.link === true || (entry.resolved !== undefined && !/^https?:\/\//.test(entry.resolved))),
  );
  if (foreign.length > 0)
    throw packRejected(
      `${dir}: package-lock.json installs from outside a registry (git, a local path or a link), which npm would fetch or link on this host: ${foreign
        .slice(0, 5)
        .map(([path, entry]) => `${path} (${entry.resolved ?? 'link'})`)
        .join(', ')}`,
    );
}

/**
 * `npm ci --omit=dev --ignore-scripts`: exactly the lockfile's registry packages, no development
 * dependencies, and nothing of the pack's run on this host (refuseForeignSources).
 */
export async function installNpmDependencies(dir: string, progress: Progress): Promise<void> {
  if (!(await needsDependencies(dir))) return;
  await refuseForeignSources(dir);
  progress(`${NPM_CI} (on this host; the image build fetches nothing)`);
  try {
    await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (error) {
    // The compose CLI's image has no npm (docs/compose.md, "Tool packs").
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw packRejected(
        `${dir} has a package.json, and npm is not installed here: run "${NPM_CI}" there where npm is, then build with --installed`,
      );
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw packRejected(`npm ci failed in ${dir}:\n${stderr.trim().split('\n').slice(-10).join('\n')}`);
  }
}

/**
 * `--installed`: the operator ran `npm ci --omit=dev --ignore-scripts` in the directory already.
 * Checked offline from npm's own record of what it installed: every package installed is the
 * lockfile's, at its version and integrity, and none is a development one; every package the
 * lockfile needs in production (neither dev nor optional) is there. It checks what npm recorded,
 * not the files' bytes: a pack's directory is the operator's own.
 */
export async function checkInstalledDependencies(dir: string, progress: Progress): Promise<void> {
  if (!(await needsDependencies(dir))) return;
  const locked = await readLockfile(join(dir, 'package-lock.json'), `${dir}: package-lock.json unreadable`);
  const installed = await readLockfile(
    join(dir, 'node_modules', '.package-lock.json'),
    `${dir}: --installed, but nothing was installed there (no node_modules/.package-lock.json): run "${NPM_CI}" there first`,
  );
  const problems: string[] = [];
  for (const [path, entry] of Object.entries(installed.packages)) {
    const lock = locked.packages[path];
    if (!lock) problems.push(`${path} is installed but not in package-lock.json`);
    else if (lock.dev === true)
      problems.push(`${path} is a development dependency (${NPM_CI} leaves it out)`);
    else if (lock.version !== entry.version || lock.integrity !== entry.integrity)
      problems.push(`${path} is ${entry.version ?? '?'}, package-lock.json says ${lock.version ?? '?'}`);
  }
  for (const [path, lock] of Object.entries(locked.packages)) {
    const needed = path.startsWith('node_modules/') || path.includes('/node_modules/');
    if (needed && !lock.dev && !lock.optional && !lock.devOptional && !installed.packages[path])
      problems.push(`${path} is missing`);
  }
  if (problems.length > 0)
    throw packRejected(
      `${dir}: node_modules is not what "${NPM_CI}" installs from package-lock.json:\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  … ${problems.length - 10} more` : ''}`,
    );
  progress(
    `node_modules checked against package-lock.json (${Object.keys(installed.packages).length} packages)`,
  );
}
