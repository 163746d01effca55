// `node router/main.ts` with an environment of the test's, everything else it needs given (a
// call-assertion key of its own, a Redis that answers nothing), for tests of what the router refuses
// when it starts: a refusal must come before any connection.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCommand, type CliResult } from './cli.ts';

const ROUTER_MAIN = resolve(import.meta.dirname, '../../router/main.ts');

export async function startRouterWith(env: Record<string, string>): Promise<CliResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-router-start-'));
  const keyFile = join(dir, 'call-assertion.key');
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return runCommand(process.execPath, [ROUTER_MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      BULKHEAD_ROUTER_PRIVATE_KEY_FILE: keyFile,
      BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
      ...env,
    },
    timeoutMs: 20_000,
  }).finally(() => rm(dir, { recursive: true, force: true }));
}
