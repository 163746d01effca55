// Fields more than one process shares, each with its one default. A process spreads the ones it
// reads into its own defineConfig() declaration.
import { z } from 'zod';
import type { ConfigField } from './define-config.ts';
import { IDEMPOTENCY_WINDOW_DEFAULT_MS, IDEMPOTENCY_WINDOW_MIN_MS } from './idempotency-window.ts';

export const redisUrl = {
  env: 'BULKHEAD_REDIS_URL',
  schema: z.string().default('redis://127.0.0.1:6379'),
  doc: 'Redis URL: redis://, rediss:// (TLS) or unix:///path/to/redis.sock[?db=N] (docs/operations.md), with user, password and database as the URL gives them',
} satisfies ConfigField;

/** A namespace separates installations (and test runs) that share one Docker engine and one Redis. */
export const NamespaceSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'namespace: 1-31 of a-z, 0-9, "-"');

export const namespace = {
  env: 'BULKHEAD_NAMESPACE',
  schema: NamespaceSchema.default('default'),
  doc: 'installation namespace: Redis key prefix, container and label names',
} satisfies ConfigField;

/** The claim of a token naming its tenant: the router reads it; the console refuses an ID token that has it. */
export const tenantClaim = {
  env: 'BULKHEAD_TENANT_CLAIM',
  schema: z.string().min(1).default('tenant'),
  doc: "claim naming the tenant: the router's tenant of a token; an ID token that carries it is a tenant's user's, refused at console sign-in whatever its roles",
} satisfies ConfigField;

export const logLevel = {
  env: 'LOG_LEVEL',
  schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  doc: 'pino log level',
} satisfies ConfigField;

/** How long a write's result is kept for replay: the router and each tenant runtime use the same. */
export const idempotencyWindowMs = {
  env: 'BULKHEAD_IDEMPOTENCY_WINDOW_MS',
  schema: z.coerce.number().int().min(IDEMPOTENCY_WINDOW_MIN_MS).default(IDEMPOTENCY_WINDOW_DEFAULT_MS),
  doc: 'how long write results are kept for replay, in the router and in every tenant runtime',
} satisfies ConfigField;

/** Where each tenant's socket directory lives (`<runDir>/<namespace>/<tenant>`): the supervisor makes it, the egress gateway dials into it. */
export const runDir = {
  env: 'BULKHEAD_RUN_DIR',
  schema: z.string().min(1).default('/var/lib/bulkhead/run'),
  doc: 'host directory for tenant socket directories',
} satisfies ConfigField;

/** Where the router and the supervisor send their spans (docs/observability.md, "Traces"). */
export const otlpTracesEndpoint = {
  env: 'BULKHEAD_OTLP_TRACES_ENDPOINT',
  schema: z.url({ protocol: /^https?$/ }).optional(),
  doc: 'OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces; unset: no tracing',
  defaultText: 'none',
} satisfies ConfigField;

/**
 * The address a process's /metrics listener binds (docs/observability.md): loopback by default; a
 * container's own address (0.0.0.0) where only a Prometheus shares its network (docker-compose.yml).
 */
export function metricsHost(env: string) {
  return {
    env,
    schema: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
    doc: "address the /metrics listener binds, an IP literal: loopback unless a network that only Prometheus joins is this process's (0.0.0.0 in docker-compose.yml)",
  } satisfies ConfigField;
}

/** Where sealed audit segments live: the supervisor writes them, the CLI exports and verifies them. */
export const auditDir = {
  env: 'BULKHEAD_AUDIT_DIR',
  schema: z.string().min(1).default('/var/lib/bulkhead/audit'),
  doc: 'directory of sealed audit segments, one sub-directory per tenant (docs/audit.md)',
} satisfies ConfigField;

/** The fields every Redis-backed process reads. */
export const INSTALLATION_FIELDS = { redisUrl, namespace } as const;
