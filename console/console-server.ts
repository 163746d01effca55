// The console process: the sign-in (OpenID Connect), the JSON API, the bundled front end and the
// metrics scraper, over the same control-plane use cases as the CLI. It reaches Redis and the
// supervisor's job queue with its own credentials; a browser gets none of them, and no token.
import type { KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AuditTrail } from '../kernel/audit/audit-trail.ts';
import { BulkheadError, isBulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { DeadlineRedis } from '../kernel/redis/deadline.ts';
import { unansweredByRedis } from '../kernel/redis/redis-unanswered.ts';
import type { ConfigOf } from '../kernel/config/define-config.ts';
import { Scheduler } from '../kernel/process/scheduler.ts';
import { TenantRegistry } from '../kernel/registry/tenant-registry.ts';
import type { Installation } from '../kernel/tenant/installation.ts';
import { RuntimeClient } from '../supervisor/client/runtime-client.ts';
import { EvidenceStore } from '../tenants/control-plane/evidence.ts';
import { ApiRoutes } from './api-routes.ts';
import { AuthRoutes } from './auth/auth-routes.ts';
import { discoverOidcClient, readClientSecret } from './auth/oidc-client.ts';
import { PendingSignIns, sharedSignInKey } from './auth/pending-sign-in.ts';
import { SessionStore } from './auth/sessions.ts';
import type { consoleConfig } from './config.ts';
import { secure, sendError, sendHtml } from './http/http-kit.ts';
import { MetricsRing } from './metrics/metrics-ring.ts';
import { RefusedActionBound } from './refused-actions.ts';
import { TenantViews } from './tenant-views.ts';
import { readPublicKey } from '../tenants/control-plane/audit-segments.ts';
import { VerifiedSegments } from '../kernel/audit/segment-chain.ts';
import { auditReadProblem } from '../kernel/audit/audit-access.ts';
import { INDEX_HTML, loadAssets } from './ui/assets.ts';

export type ConsoleOptions = Omit<
  ConfigOf<(typeof consoleConfig)['fields']>,
  'logLevel' | 'redisUrl' | 'namespace'
> & {
  installation: Installation;
  logger: Logger;
};

export interface RunningConsole {
  url: string;
  /** Scrapes the metrics targets now (the scheduler does it every interval). */
  scrape(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long any command of the console's waits for Redis (its client, a DeadlineRedis): a Redis
 * that stops answering with its connection open held every request past its session read for good.
 */
export const REDIS_DEADLINE_MS = 5_000;

/**
 * A failed request's error as the console answers it: a Redis that gives no answer (stopped,
 * restarting: ioredis gives up on the command after its one retry; frozen: the command's deadline
 * passed) is state_unavailable (HTTP 503, retry), never an internal error (500), whichever command
 * of whichever route met it.
 */
function answerable(error: unknown): unknown {
  return unansweredByRedis(error)
    ? new BulkheadError('state_unavailable', "the console's state (Redis) did not answer; retry", {
        cause: error,
      })
    : error;
}

/**
 * The sealed trails this console is to show, readable by its process: a readers' group it is not in
 * (the supervisor's BULKHEAD_AUDIT_READER_GID), or an audit directory that does not let it in,
 * would fail every tenant's page. What is sealed after the start is checked as it is read
 * (audit_unreadable, with the same reason).
 */
async function requireReadableAudit(root: string): Promise<void> {
  const problem = await auditReadProblem(root);
  if (problem !== undefined) throw new BulkheadError('invalid_config', `BULKHEAD_AUDIT_DIR: ${problem}`);
}

/**
 * The key the sealed trails verify with, read as the rest of the configuration is: a file this
 * process may not read (another UID's, 0600) or that holds no key is the setting's refusal (exit
 * 2), as the audit directory's is.
 */
async function auditPublicKey(file: string): Promise<KeyObject> {
  try {
    return await readPublicKey(file);
  } catch (error) {
    if (!isBulkheadError(error, 'invalid_input')) throw error;
    throw new BulkheadError('invalid_config', `BULKHEAD_AUDIT_PUBLIC_KEY_FILE: ${error.message}`, {
      cause: error,
    });
  }
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const { installation: inst, logger } = options;
  // Configuration read before anything connects: a missing secret or asset fails the start at once.
  const clientSecret = await readClientSecret(options);
  const assets = await loadAssets(options.assetsDir);
  const publicKey =
    options.auditPublicKeyFile === undefined ? undefined : await auditPublicKey(options.auditPublicKeyFile);
  if (publicKey !== undefined) await requireReadableAudit(options.auditDir);
  const redis = new DeadlineRedis(
    { ...inst.redis, maxRetriesPerRequest: 1 },
    { deadlineMs: REDIS_DEADLINE_MS },
  );
  redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis'));
  const runtimes = new RuntimeClient({
    redis: inst.redis,
    prefix: inst.jobsPrefix,
    timeoutMs: options.runtimeTimeoutMs,
  });
  await runtimes.ready();
  const registry = new TenantRegistry({ redis, prefix: inst.registryPrefix });
  const audit = new AuditTrail({ redis, prefix: inst.registryPrefix });
  const evidence = new EvidenceStore({ redis, prefix: inst.registryPrefix });
  // With the audit public key, each tenant's trail is its sealed segments and what Redis still holds.
  const sealed =
    publicKey === undefined
      ? undefined
      : {
          root: options.auditDir,
          publicKey,
          // Sealed segments never change: each view checks their bytes, not all their entries again.
          verified: new VerifiedSegments({ maxEntries: options.verifiedEntries }),
        };
  const metrics = new MetricsRing({ targets: options.metricsTargets, samplesKept: options.samplesKept });
  const scheduler = new Scheduler({ logger });
  if (options.metricsTargets.length > 0)
    scheduler.every('console-metrics-scrape', options.scrapeIntervalMs, () => metrics.scrape());

  // Only a configured URL can be https: the fallback, the address bound, is always http.
  const https = options.publicUrl !== undefined && new URL(options.publicUrl).protocol === 'https:';
  // The handler is attached before the server listens: a request accepted while the IdP is still
  // being discovered gets a 503 (health checks retry), never a connection no listener answers.
  const ready: { routes?: { auth: AuthRoutes; api: ApiRoutes } } = {};
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const { routes } = ready;
    if (routes === undefined) {
      secure(res, https);
      res.writeHead(503, { 'retry-after': '1' }).end('starting');
      return;
    }
    handle(routes, req, res).catch((thrown: unknown) => {
      const error = answerable(thrown);
      if (!(error instanceof Error && 'code' in error))
        logger.error({ err: error }, 'console request failed');
      if (!res.headersSent) sendError(res, error);
      // An answer that fails after its headers went out (an export) is cut, never ended as if whole.
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = `http://${options.host}:${(server.address() as AddressInfo).port}`;
  const origin = new URL(options.publicUrl ?? bound).origin;
  const auth = new AuthRoutes({
    oidc: await discoverOidcClient({
      issuer: options.issuer,
      providerUrl: options.providerUrl,
      clientId: options.clientId,
      clientSecret,
      redirectUri: `${origin}/auth/callback`,
      scope: options.scope,
      rolesClaim: options.rolesClaim,
      tenantClaim: options.tenantClaim,
    }).catch(async (error: unknown) => {
      server.close();
      await runtimes.close();
      redis.disconnect();
      throw error;
    }),
    sessions: new SessionStore({
      redis,
      prefix: inst.registryPrefix,
      ttlMs: options.sessionTtlMs,
      max: options.maxSessions,
    }),
    signIns: new PendingSignIns({
      key: await sharedSignInKey({
        redis,
        prefix: inst.registryPrefix,
        clientId: options.clientId,
        clientSecret,
      }),
    }),
    origin,
    sessionTtlMs: options.sessionTtlMs,
  });
  const api = new ApiRoutes({
    auth,
    views: new TenantViews({
      cp: { registry, runtimes, audit },
      redis,
      prefix: inst.registryPrefix,
      sealed,
      pageSize: options.tenantsPageSize,
    }),
    cp: { registry, runtimes, audit },
    sealed,
    evidence,
    metrics,
    exportTimeoutMs: options.exportTimeoutMs,
    refusals: new RefusedActionBound({ redis, prefix: inst.registryPrefix }),
  });

  async function handle(
    { auth, api }: { auth: AuthRoutes; api: ApiRoutes },
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    secure(res, https);
    const url = new URL(req.url ?? '/', origin);
    const get = req.method === 'GET' || req.method === 'HEAD';
    const asset = assets.get(url.pathname);
    if (get && asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
      res.end(asset.body);
    } else if (get && url.pathname === '/') sendHtml(res, 200, INDEX_HTML);
    else if (get && url.pathname === '/auth/login') auth.login(req, res);
    else if (get && url.pathname === '/auth/callback') await auth.callback(req, res, url);
    else if (req.method === 'POST' && url.pathname === '/auth/logout') await auth.logout(req, res);
    else if (url.pathname.startsWith('/api/')) await api.handle(req, res, url);
    else if (get && url.pathname === '/healthz') res.writeHead(200).end('ok');
    else sendHtml(res, 404, '<!doctype html><html lang="en"><title>Not found</title><p>Not found</p></html>');
  }

  ready.routes = { auth, api };
  logger.info({ url: bound, origin, issuer: options.issuer }, 'console listening');

  return {
    url: bound,
    scrape: () => metrics.scrape(),
    async close() {
      await scheduler.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await runtimes.close();
      redis.disconnect();
    },
  };
}
