// Benchmark (not a test): what authentication and authorization cost per request. A real dev IdP
// issues the tokens; the router app (createApp, real verifier, keys cached) answers on loopback.
// Prints the verifier alone, a whole tools/list and a step-up 403, plus the JWKS fetches an
// unknown-kid flood caused. Asserts nothing.
//   node test/bench/auth-cost.ts [--requests 2000]
import { printFigures, timed } from './figures.ts';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { createTokenVerifier } from '../../router/auth/token-verifier.ts';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startDevIdp } from '../../dev/idp/dev-idp.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { countingProxy, mcpPost, MemoryTenants, startAuthRouter } from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { requests: { type: 'string', default: '2000' } },
});
const requests = Number(values.requests);
const logger = pino({ level: 'silent' });
const INITIAL = 'bench-initial-access-token-0123456789';

/** Sequential calls: the throughput is 1/mean. */
function figures(label: string, samples: number[]): void {
  const total = samples.reduce((a, b) => a + b, 0);
  printFigures(label, samples, {
    digits: 3,
    labelWidth: 34,
    extra: ` (${Math.round((samples.length * 1000) / total)}/s sequential)`,
  });
}

const port = await freePort();
const mcpUrl = `http://127.0.0.1:${port}/mcp`;
const idp = await startDevIdp({
  port: 0,
  resources: [{ url: mcpUrl, scopes: ['records:read', 'records:write'] }],
  initialAccessToken: INITIAL,
  logger,
});
const proxy = await countingProxy(idp.jwksUri);
const tenants = new MemoryTenants([tenantRecord('bench', { tools: openToAgentsAlone('all') })]);
const router = await startAuthRouter({
  port,
  issuers: [{ issuer: idp.issuer, jwksUri: proxy.url }],
  tenants,
  logger,
});
const agent = await registerAgentClient({
  issuer: idp.issuer,
  initialAccessToken: INITIAL,
  tenant: 'bench',
  scopes: ['records:read', 'records:write'],
  clientName: 'bench',
});
const token = await mintClientCredentialsToken({
  issuer: idp.issuer,
  ...agent,
  resource: mcpUrl,
  scope: 'records:read',
});
const verify = createTokenVerifier({
  issuers: [{ issuer: idp.issuer, jwksUri: proxy.url }],
  audience: mcpUrl,
  algorithms: ['ES256'],
  clockToleranceSeconds: 5,
  tenants,
});

try {
  await verify(token);
  figures('verifier alone (keys cached)', await timed(requests, () => verify(token)));
  await mcpPost(mcpUrl, token);
  figures('tools/list over HTTP, authenticated', await timed(requests, () => mcpPost(mcpUrl, token)));
  const stepUp = {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'records_create', arguments: {} },
  };
  figures('tools/call answered 403 step-up', await timed(requests, () => mcpPost(mcpUrl, token, stepUp)));

  const attacker = await generateKeyPair('ES256');
  const claims = decodeJwt(token);
  const before = proxy.count();
  const started = performance.now();
  for (let i = 0; i < 1000; i += 1) {
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `unknown-${i}` })
      .sign(attacker.privateKey);
    await mcpPost(mcpUrl, forged);
  }
  console.log(
    `1000 unknown-kid tokens (sequential) in ${Math.round(performance.now() - started)} ms: ` +
      `${proxy.count() - before} JWKS fetch(es) with a 30 s cooldown; ${proxy.count()} in the whole run`,
  );
} finally {
  await router.close();
  await proxy.close();
  await idp.close();
}
