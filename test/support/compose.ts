// docker-compose (Debian's 1.29) against the repository's docker-compose.yml, with a controlled
// environment: nothing BULKHEAD_* or COMPOSE_* leaks in from the caller, only what a test names.
import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const COMPOSE_FILE = resolve(ROOT, 'docker-compose.yml');

export interface ComposeResult {
  code: number;
  stdout: string;
  stderr: string;
}

function composeEnv(extraEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(BULKHEAD_|COMPOSE_)/.test(key)),
  );
  return { ...env, ...extraEnv };
}

/** Synchronous, for reading the configuration; throws on a non-zero exit. */
export function composeSync(args: string[], extraEnv: Record<string, string>): string {
  return execFileSync('docker-compose', ['-f', COMPOSE_FILE, ...args], {
    cwd: ROOT,
    env: composeEnv(extraEnv),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** For commands that take a while (up, run, down); resolves with the exit code, never throws. */
export function composeRun(
  args: string[],
  extraEnv: Record<string, string>,
  timeoutMs = 120_000,
): Promise<ComposeResult> {
  return new Promise((done) => {
    execFile(
      'docker-compose',
      ['-f', COMPOSE_FILE, ...args],
      { cwd: ROOT, env: composeEnv(extraEnv), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}
