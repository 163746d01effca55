// The router's JWS algorithm allowlist (BULKHEAD_TOKEN_ALGORITHMS) takes asymmetric algorithms only.
// A symmetric one (HS*) or `none` is refused where every invalid setting is: when the router reads
// its environment, naming the variable, with exit code 2 (docs/configuration.md), not later by the
// token verifier with a stack trace and exit code 1 once Redis is reached.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { routerConfig } from '../../router/config.ts';
import { runCommand } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const env = (algorithms: string) => ({
  BULKHEAD_ISSUER: 'https://idp.example/',
  BULKHEAD_TOKEN_ALGORITHMS: algorithms,
});

describe('BULKHEAD_TOKEN_ALGORITHMS', () => {
  it.each([
    ['ES256', ['ES256']],
    ['RS256, ES256', ['RS256', 'ES256']],
    ['EdDSA', ['EdDSA']],
  ])('takes %j', (value, algorithms) => {
    expect(routerConfig.fromEnv(env(value)).algorithms).toEqual(algorithms);
  });

  it.each(['HS256', 'ES256,HS512', 'none', 'RS256,none', ','])('refuses %j, naming the variable', (value) => {
    expect(() => routerConfig.fromEnv(env(value))).toThrow(/BULKHEAD_TOKEN_ALGORITHMS: /);
  });

  it('stops the router at start with exit code 2 and the variable, before it reaches Redis', async () => {
    // Everything else the router needs, so that only the algorithm can stop it.
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-token-algorithms-'));
    const keyFile = join(dir, 'call-assertion.key');
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const run = await runCommand(process.execPath, [join(ROOT, 'router/main.ts')], {
      env: {
        PATH: process.env.PATH ?? '',
        ...env('HS256'),
        BULKHEAD_ROUTER_PRIVATE_KEY_FILE: keyFile,
        // A Redis that answers nothing: the refusal must come before any connection.
        BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
      },
    }).finally(() => rm(dir, { recursive: true, force: true }));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^invalid configuration of Router:\n {2}BULKHEAD_TOKEN_ALGORITHMS: .*HS\* and none/,
    );
  });
});
