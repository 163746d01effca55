// Every benchmark script that takes options answers `--help` with its header comment (its usage)
// and a wrong option with one line and exit code 2 (test/bench/bench-args.ts), without starting
// anything: the script is run as an operator would run it.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usageOf } from '../bench/bench-args.ts';
import { runCommand } from '../support/cli.ts';

const benchDir = resolve(import.meta.dirname, '../bench');
const scripts = readdirSync(benchDir)
  .filter((name) => name.endsWith('.ts'))
  .filter((name) => readFileSync(join(benchDir, name), 'utf8').includes('benchArgs(import.meta.filename'));

function node(script: string, ...args: string[]) {
  return runCommand(process.execPath, [join(benchDir, script), ...args]);
}

/** The options a script's `benchArgs(import.meta.filename, {...})` call declares, read from its source. */
function declaredOptions(source: string): string[] {
  const start = source.indexOf('(', source.indexOf('benchArgs(import.meta.filename'));
  let depth = 0;
  let end = start;
  for (; end < source.length; end++) {
    if (source[end] === '(') depth++;
    if (source[end] === ')' && --depth === 0) break;
  }
  return [...source.slice(start, end).matchAll(/'?([a-z][a-z0-9-]*)'?: \{ type: '(?:string|boolean)'/g)].map(
    (match) => match[1]!,
  );
}

describe('benchmark scripts', () => {
  it('name every option they take in their header, which --help prints', () => {
    for (const script of scripts) {
      const header = usageOf(join(benchDir, script));
      const options = declaredOptions(readFileSync(join(benchDir, script), 'utf8'));
      expect(options.length, script).toBeGreaterThan(0);
      const unnamed = options.filter((name) => !new RegExp(`--${name}(?![a-z-])`).test(header));
      expect({ script, unnamed }).toEqual({ script, unnamed: [] });
    }
  });

  it('every script that parses options does it through benchArgs', () => {
    const raw = readdirSync(benchDir).filter(
      (name) => name.endsWith('.ts') && /\bparseArgs\(/.test(readFileSync(join(benchDir, name), 'utf8')),
    );
    expect(raw).toEqual([]);
    expect(scripts.length).toBeGreaterThan(15);
  });

  it(
    'answer --help with their header and a wrong option with exit code 2',
    { timeout: 240_000 },
    async () => {
      for (const script of scripts) {
        const help = await node(script, '--help');
        expect({ script, code: help.code }).toEqual({ script, code: 0 });
        const usage = usageOf(join(benchDir, script));
        expect(usage.length).toBeGreaterThan(40);
        expect(help.stdout.trim()).toBe(usage.trim());
        const wrong = await node(script, '--no-such-option');
        expect({ script, code: wrong.code }).toEqual({ script, code: 2 });
        expect(wrong.stderr).toContain("Unknown option '--no-such-option'");
      }
    },
  );

  it('answer a value they refuse in one line with exit code 2, before starting anything', async () => {
    for (const [script, args, message] of [
      ['observability-overhead.ts', ['--only', 'nope'], '--only takes one of: all off, tracing'],
      ['lifecycle.ts', ['--isolation', 'kata'], '--isolation takes runc or gvisor'],
      ['observability-router.ts', ['--dir', '.'], '--setting is required'],
      ['tool-surface.ts', ['--calls', 'many'], '--calls takes a number (default 20000), not "many"'],
      ['socket-connect.ts', ['--connects=1e3'], '--connects takes a number (default 5000), not "1e3"'],
      ['soak.ts', ['--writes=-1'], '--writes takes a number (default 0.2), not "-1"'],
      ['profile-summary.ts', [], 'give one or more FILE.cpuprofile'],
      ['start-floor.ts', ['--isolation', 'kata'], '--isolation takes runc or gvisor, not "kata"'],
      ['start-phases.ts', ['--isolation', 'kata'], '--isolation takes runc or gvisor, not "kata"'],
      ['start-phases.ts', ['--variants', 'warm'], '--variants takes any of cache, nocache, period100'],
      ['start-phases.ts', ['--variants', 'cache,warm'], '--variants takes any of cache, nocache, period100'],
      ['onboard.ts', ['--isolation', 'kata'], '--isolation takes runc or gvisor, not "kata"'],
      ['profile-summary.ts', ['x.cpuprofile', '--calls', 'all'], '--calls takes a whole number of calls'],
    ] as const) {
      const refused = await node(script, ...args);
      expect({ script, code: refused.code }).toEqual({ script, code: 2 });
      expect(refused.stderr).toContain(message);
      expect(refused.stderr).not.toContain('    at ');
    }
  });

  it('summarise every profile given (DIR/*.cpuprofile), each under its name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-bench-help-'));
    try {
      const profile = (fn: string) => ({
        nodes: [{ id: 1, callFrame: { functionName: fn, url: 'file:///x/router/app.ts', lineNumber: 0 } }],
        samples: [1, 1],
        timeDeltas: [500, 500],
      });
      await writeFile(join(dir, 'a.cpuprofile'), JSON.stringify(profile('first')));
      await writeFile(join(dir, 'b.cpuprofile'), JSON.stringify(profile('second')));
      const summary = await node('profile-summary.ts', join(dir, 'a.cpuprofile'), join(dir, 'b.cpuprofile'));
      expect(summary.code).toBe(0);
      expect(summary.stdout).toContain(`== ${join(dir, 'a.cpuprofile')}`);
      expect(summary.stdout).toContain(`== ${join(dir, 'b.cpuprofile')}`);
      expect(summary.stdout).toMatch(/first {2}router\/app\.ts:1[^]*second {2}router\/app\.ts:1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
