// Router process entry: configuration from the environment (zod), then wiring. The router holds no
// Docker socket: it asks the supervisor for runtimes through BullMQ.
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { z } from 'zod';
import { installation } from '../kernel/tenant/installation.ts';
import { jsonListEnv, processConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { TrustedIssuerSchema } from './auth/trusted-issuers.ts';
import { DEFAULT_READ_BOUNDS } from './dispatch/bounded-fetch.ts';
import { startRouter } from './router.ts';

const USAGE = `Usage: node router/main.ts

Runs the Bulkhead router: the one /mcp endpoint (OAuth 2.1 resource server).
Environment:
  BULKHEAD_ISSUER                      trusted token issuer URL (required)
  BULKHEAD_JWKS_URI                    its JWKS URL (default ISSUER/jwks)
  BULKHEAD_RESOURCE_URL                this server's resource URL (default http://127.0.0.1:8080/mcp)
  BULKHEAD_ROUTER_HOST / _PORT         listen address (default 127.0.0.1:8080)
  BULKHEAD_TOKEN_ALGORITHMS            comma-separated JWS algorithm allowlist (default ES256)
  BULKHEAD_TENANT_CLAIM                claim naming the tenant (default tenant)
  BULKHEAD_CLOCK_TOLERANCE_SECONDS     exp/nbf/iat tolerance (default 30)
  BULKHEAD_JWKS_COOLDOWN_SECONDS       least time between two JWKS fetches on unknown kids (default 30)
  BULKHEAD_TRUSTED_ISSUERS             JSON list of further trusted issuers (default []), e.g.
                                       [{"issuer":"https://x.eu.auth0.com/","jwksUri":"https://x.eu.auth0.com/.well-known/jwks.json","tenantClaim":"https://bulkhead/tenant","rolesClaim":"https://bulkhead/roles"}]
                                       tenants choose among them with their "issuers" bindings
  BULKHEAD_ROUTER_PRIVATE_KEY_FILE     call-assertion signing key, PKCS#8 PEM, Ed25519 (required)
  BULKHEAD_ALLOWED_ORIGINS             comma-separated browser origins allowed to call /mcp
                                       (default: the resource URL's origin)
  BULKHEAD_ALLOWED_HOSTS               comma-separated hostnames the Host header may name
                                       (default: the resource URL's hostname)
  BULKHEAD_SESSION_IDLE_TTL_SECONDS    idle lifetime of a 2025-11-25 session (default 3600)
  BULKHEAD_MAX_BODY_BYTES              request body bound, larger gets 413 (default 1048576)
  BULKHEAD_REDIS_URL                   Redis URL (default redis://127.0.0.1:6379)
  BULKHEAD_NAMESPACE                   installation namespace (default "default")
  BULKHEAD_SHARED_TOOL_MODULES         comma-separated files of operator shared tool modules
  BULKHEAD_DOCS_DIR                    Markdown files docs_search serves (default router/tools/shared/docs)
  BULKHEAD_IDEMPOTENCY_WINDOW_MS       how long write results are kept for replay (default 86400000)
  BULKHEAD_TOOL_CHECK_INTERVAL_MS      re-check of tenant tool definitions (default 60000)
  BULKHEAD_CALL_TIMEOUT_MS             deadline of a call into a tenant runtime (default 30000)
  Bounds on what the router reads from a tenant runtime (a breach is a security event):
  BULKHEAD_RUNTIME_MAX_RESPONSE_BYTES  ceiling of a runtime's answer; the cap in force is 16x the
                                       largest tool payload bound, at least 64 KiB (default 4194304)
  BULKHEAD_RUNTIME_MAX_HEADER_BYTES    response header block (default 16384)
  BULKHEAD_RUNTIME_MAX_STREAM_MESSAGES server-sent events in one answer (default 1000)
  BULKHEAD_RUNTIME_FIRST_BYTE_MS       wait for the headers and between body chunks (default 30000)
  LOG_LEVEL                            pino level (default info)`;

const Env = z.object({
  BULKHEAD_ISSUER: z.url(),
  BULKHEAD_JWKS_URI: z.url().optional(),
  BULKHEAD_RESOURCE_URL: z.url().default('http://127.0.0.1:8080/mcp'),
  BULKHEAD_ROUTER_HOST: z.string().default('127.0.0.1'),
  BULKHEAD_ROUTER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  BULKHEAD_TOKEN_ALGORITHMS: z.string().default('ES256'),
  BULKHEAD_TENANT_CLAIM: z.string().default('tenant'),
  BULKHEAD_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  BULKHEAD_JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  BULKHEAD_TRUSTED_ISSUERS: jsonListEnv(TrustedIssuerSchema),
  BULKHEAD_ROUTER_PRIVATE_KEY_FILE: z.string().min(1),
  BULKHEAD_ALLOWED_ORIGINS: z.string().optional(),
  BULKHEAD_ALLOWED_HOSTS: z.string().optional(),
  BULKHEAD_SESSION_IDLE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3600),
  BULKHEAD_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  BULKHEAD_REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  BULKHEAD_NAMESPACE: z.string().default('default'),
  BULKHEAD_SHARED_TOOL_MODULES: z.string().default(''),
  BULKHEAD_DOCS_DIR: z.string().optional(),
  BULKHEAD_IDEMPOTENCY_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(24 * 3600 * 1000),
  BULKHEAD_TOOL_CHECK_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  BULKHEAD_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  BULKHEAD_RUNTIME_MAX_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(DEFAULT_READ_BOUNDS.maxResponseBytes),
  BULKHEAD_RUNTIME_MAX_HEADER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(DEFAULT_READ_BOUNDS.maxHeaderBytes),
  BULKHEAD_RUNTIME_MAX_STREAM_MESSAGES: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_READ_BOUNDS.maxStreamMessages),
  BULKHEAD_RUNTIME_FIRST_BYTE_MS: z.coerce.number().int().min(100).default(DEFAULT_READ_BOUNDS.firstByteMs),
  LOG_LEVEL: z.string().default('info'),
});

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

async function main(): Promise<void> {
  const env = processConfig(Env, USAGE);
  if (!env) return;
  const logger = pino({ name: 'router', level: env.LOG_LEVEL });
  const router = await startRouter({
    installation: installation({ namespace: env.BULKHEAD_NAMESPACE, redisUrl: env.BULKHEAD_REDIS_URL }),
    host: env.BULKHEAD_ROUTER_HOST,
    port: env.BULKHEAD_ROUTER_PORT,
    resourceUrl: env.BULKHEAD_RESOURCE_URL,
    issuer: env.BULKHEAD_ISSUER,
    ...(env.BULKHEAD_JWKS_URI ? { jwksUri: env.BULKHEAD_JWKS_URI } : {}),
    algorithms: env.BULKHEAD_TOKEN_ALGORITHMS.split(',').map((a) => a.trim()),
    tenantClaim: env.BULKHEAD_TENANT_CLAIM,
    clockToleranceSeconds: env.BULKHEAD_CLOCK_TOLERANCE_SECONDS,
    ...(env.BULKHEAD_ALLOWED_ORIGINS ? { allowedOrigins: list(env.BULKHEAD_ALLOWED_ORIGINS) } : {}),
    ...(env.BULKHEAD_ALLOWED_HOSTS ? { allowedHosts: list(env.BULKHEAD_ALLOWED_HOSTS) } : {}),
    sessionIdleTtlSeconds: env.BULKHEAD_SESSION_IDLE_TTL_SECONDS,
    maxBodyBytes: env.BULKHEAD_MAX_BODY_BYTES,
    jwksCooldownSeconds: env.BULKHEAD_JWKS_COOLDOWN_SECONDS,
    extraIssuers: env.BULKHEAD_TRUSTED_ISSUERS,
    callAssertionPrivateKey: await readFile(env.BULKHEAD_ROUTER_PRIVATE_KEY_FILE, 'utf8'),
    logger,
    sharedToolModules: env.BULKHEAD_SHARED_TOOL_MODULES.split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    ...(env.BULKHEAD_DOCS_DIR ? { docsDir: env.BULKHEAD_DOCS_DIR } : {}),
    idempotencyWindowMs: env.BULKHEAD_IDEMPOTENCY_WINDOW_MS,
    toolCheckIntervalMs: env.BULKHEAD_TOOL_CHECK_INTERVAL_MS,
    callTimeoutMs: env.BULKHEAD_CALL_TIMEOUT_MS,
    runtimeBounds: {
      maxResponseBytes: env.BULKHEAD_RUNTIME_MAX_RESPONSE_BYTES,
      maxHeaderBytes: env.BULKHEAD_RUNTIME_MAX_HEADER_BYTES,
      maxStreamMessages: env.BULKHEAD_RUNTIME_MAX_STREAM_MESSAGES,
      firstByteMs: env.BULKHEAD_RUNTIME_FIRST_BYTE_MS,
    },
  });
  stopOnSignals(() => router.close());
}

await main();
