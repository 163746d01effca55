// A console whose Redis stops answering after a request's session read, its connections open
// (frozen, not down: console-redis-down.test.ts stops it), answers that request
// state_unavailable (HTTP 503) at its Redis deadline (REDIS_DEADLINE_MS), on every route that
// reads or writes Redis after the session; an action is not done. Before, only the session read
// was bounded and these requests waited for good. A redis-server of the test's own
// (private-redis.ts) behind a relay that goes silent right after the session read's answer
// (freezing-proxy.ts); the real console and development IdP.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_DEADLINE_MS } from '../../console/console-server.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { actionHeaders, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';

const TENANT = 'acme';

let relayed: RelayedRedis;
let running: ConsoleAlone;
let redis: Redis;
let registry: TenantRegistry;
let headers: Record<string, string>;
/** What the session read's command carries: the SHA-256 of the operator's session id. */
let sessionDigest: string;

beforeAll(async () => {
  relayed = await startRelayedRedis('console-redis-frozen');
  running = await startConsoleAlone({
    name: 'console-redis-frozen',
    users: [{ id: 'olivia', roles: ['operator'] }],
    redisUrl: relayed.url,
  });
  redis = new Redis({ path: relayed.server.socketPath!, password: relayed.password });
  redis.on('error', () => undefined);
  registry = new TenantRegistry({ redis, prefix: running.ns.installation.registryPrefix });
  await registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
  const signedIn = await actionHeaders(running, 'olivia');
  headers = signedIn.headers;
  sessionDigest = createHash('sha256').update(signedIn.sessionId).digest('hex');
}, 60_000);

afterAll(async () => {
  relayed?.proxy.thaw();
  redis?.disconnect();
  await running?.close();
  await relayed?.close();
}, 60_000);

/** Every route that uses Redis after the session read; the sign-out last (it ends the session). */
const ROUTES: [method: string, path: string][] = [
  ['GET', '/api/tenants'],
  ['GET', `/api/tenants/${TENANT}`],
  ['GET', `/api/tenants/${TENANT}/evidence`],
  ['GET', `/api/tenants/${TENANT}/audit`],
  ['GET', `/api/tenants/${TENANT}/audit.jsonl`],
  ['POST', `/api/tenants/${TENANT}/actions/suspend`],
  ['POST', '/auth/logout'],
];

describe('the console whose Redis stops answering after the session read', () => {
  it.each(ROUTES)(
    'answers %s %s state_unavailable at the deadline',
    async (method, path) => {
      relayed.proxy.freezeAfter(sessionDigest);
      const started = performance.now();
      try {
        const res = await fetch(`${running.app.url}${path}`, {
          method,
          headers,
          ...(method === 'POST' ? { body: JSON.stringify({ reason: 'while Redis is frozen' }) } : {}),
          signal: AbortSignal.timeout(REDIS_DEADLINE_MS * 3),
        });
        const body = (await res.json()) as { error?: unknown };
        expect({ status: res.status, error: body.error }).toEqual({
          status: 503,
          error: 'state_unavailable',
        });
        // At the deadline, not before it: the session read was answered, the route's next command was not.
        expect(performance.now() - started).toBeGreaterThanOrEqual(REDIS_DEADLINE_MS - 50);
      } finally {
        relayed.proxy.thaw();
      }
      // Nothing was done meanwhile: the tenant is not suspended.
      expect((await registry.require(TENANT)).status).toBe('active');
    },
    30_000,
  );
});
