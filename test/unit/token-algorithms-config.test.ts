// The router's JWS algorithm allowlist (BULKHEAD_TOKEN_ALGORITHMS) takes asymmetric algorithms only.
// A symmetric one (HS*) or `none` is refused where every invalid setting is: when the router reads
// its environment, naming the variable, with exit code 2 (docs/configuration.md), not later by the
// token verifier with a stack trace and exit code 1 once Redis is reached.
import { describe, expect, it } from 'vitest';
import { routerConfig } from '../../router/config.ts';
import { startRouterWith } from '../support/router-start.ts';

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
    const run = await startRouterWith(env('HS256'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^invalid configuration of Router:\n {2}BULKHEAD_TOKEN_ALGORITHMS: .*HS\* and none/,
    );
  });
});
