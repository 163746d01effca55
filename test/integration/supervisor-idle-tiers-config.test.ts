// The three idle settings are each checked alone by their schema, and their order (paused, then
// stopped, then removed) at start: a supervisor given a stop before its pause refuses to start with
// exit 2 and one line naming the three variables and their values, before it connects to anything,
// as other settings are refused (docs/configuration.md). It threw the check's error from its entry
// instead: a stack trace and exit 1. The real `node supervisor/main.ts`, its Redis a port nothing
// listens on.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/compose.ts';

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'bulkhead-idle-tiers-'));
  const pair = generateKeyPairSync('ed25519');
  await writeFile(join(base, 'router.pub'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
});

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

function supervisorExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'supervisor/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
      BULKHEAD_NAMESPACE: `t-idle-tiers-${process.pid}`,
      BULKHEAD_RUN_DIR: join(base, 'run'),
      BULKHEAD_ROUTER_PUBLIC_KEY_FILE: join(base, 'router.pub'),
      LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounded: a supervisor that went on to its Redis (which nothing answers) would not exit by itself.
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    }),
  );
}

describe('the idle tiers out of order', () => {
  it('refuse the start with exit 2 and one line naming the three settings', async () => {
    const { code, stderr } = await supervisorExit({
      BULKHEAD_IDLE_PAUSE_MS: '600000',
      BULKHEAD_IDLE_STOP_MS: '300000',
      BULKHEAD_IDLE_REMOVE_MS: '900000',
    });
    expect({ code, first: stderr.split('\n')[0] }).toEqual({
      code: 2,
      first:
        'BULKHEAD_IDLE_PAUSE_MS 600000, BULKHEAD_IDLE_STOP_MS 300000, BULKHEAD_IDLE_REMOVE_MS 900000: a runtime is paused, then stopped, then removed, so each must be at most the next',
    });
    expect(stderr).not.toContain('    at ');
  }, 20_000);
});
