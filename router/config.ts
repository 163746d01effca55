// Everything the router process can be configured with, each default written once: the environment
// (router/main.ts), the options startRouter fills in (router/router.ts), `--help` and the router's
// section of the configuration reference all come from this declaration. Option-only knobs (no
// environment variable) are for tests and embedders.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineConfig } from '../kernel/config/define-config.ts';
import {
  idempotencyWindowMs,
  logLevel,
  namespace,
  metricsHost,
  otlpTracesEndpoint,
  redisUrl,
  tenantClaim,
} from '../kernel/config/common.ts';
import { jsonListEnv } from '../kernel/process/process-entry.ts';
import { MAX_RELAYED_NOTIFICATIONS_PER_CALL } from '../kernel/wire/answer-bounds.ts';
import { TrustedIssuerSchema } from './auth/trusted-issuers.ts';
import { isRefusedAlgorithm, VERIFIER_DEFAULTS } from './auth/token-verifier.ts';
import { DEFAULT_READ_BOUNDS } from './dispatch/bounded-fetch.ts';
import { DISPATCH_DEFAULTS } from './dispatch/tenant-dispatcher.ts';
import { CONCURRENCY_DEFAULTS } from '../kernel/process/concurrency-gate.ts';
import { MAX_SESSIONS_PER_TENANT } from './mcp/sessions.ts';
import { DEFAULT_KEPT_RESULT_BYTES, KEPT_ENTRY_BYTES } from './pipeline/result-keeping.ts';

/** The operator's published documentation that docs_search serves, shipped with the router. */
export const DEFAULT_DOCS_DIR = fileURLToPath(new URL('./tools/shared/docs/', import.meta.url));

/** A comma-separated list in the environment, a string array as an option. */
function commaList() {
  return z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean)
        : value,
    z.array(z.string().min(1)),
  );
}

/** A whole number: parsed from the environment's string, taken as is from an option. */
function int() {
  return z.coerce.number().int();
}

export const routerConfig = defineConfig(
  {
    title: 'Router',
    usage: 'node router/main.ts',
    summary: 'Runs the Bulkhead router: the one /mcp endpoint (OAuth 2.1 resource server).',
  },
  {
    issuer: { env: 'BULKHEAD_ISSUER', schema: z.url(), doc: 'trusted token issuer URL' },
    jwksUri: {
      env: 'BULKHEAD_JWKS_URI',
      schema: z.url().optional(),
      doc: 'its JWKS URL',
      defaultText: 'ISSUER/jwks',
    },
    resourceUrl: {
      env: 'BULKHEAD_RESOURCE_URL',
      schema: z.url().default('http://127.0.0.1:8080/mcp'),
      doc: "this server's resource URL",
    },
    host: { env: 'BULKHEAD_ROUTER_HOST', schema: z.string().default('127.0.0.1'), doc: 'listen address' },
    port: { env: 'BULKHEAD_ROUTER_PORT', schema: int().min(0).max(65535).default(8080), doc: 'listen port' },
    algorithms: {
      env: 'BULKHEAD_TOKEN_ALGORITHMS',
      schema: commaList()
        .refine((algs) => algs.length > 0, 'names no algorithm')
        .refine(
          (algs) => !algs.some(isRefusedAlgorithm),
          'asymmetric algorithms only: HS* and none are refused',
        )
        .default(['ES256']),
      doc: 'comma-separated JWS algorithm allowlist, asymmetric only (HS* and none are refused)',
      defaultText: 'ES256',
    },
    tenantClaim,
    clockToleranceSeconds: {
      env: 'BULKHEAD_CLOCK_TOLERANCE_SECONDS',
      schema: int().min(0).max(300).default(30),
      doc: 'exp/nbf/iat tolerance',
    },
    jwksCooldownSeconds: {
      env: 'BULKHEAD_JWKS_COOLDOWN_SECONDS',
      schema: int().min(1).max(3600).default(VERIFIER_DEFAULTS.jwksCooldownSeconds),
      doc: 'least time between two JWKS fetches on unknown kids',
    },
    maxTokenAgeSeconds: {
      schema: int().min(1).default(VERIFIER_DEFAULTS.maxTokenAgeSeconds),
      doc: "upper bound on a token's age (iat)",
    },
    tokenCacheSeconds: {
      env: 'BULKHEAD_TOKEN_CACHE_SECONDS',
      schema: int().min(0).max(600).default(VERIFIER_DEFAULTS.cacheSeconds),
      doc: "longest a verified token's signature check is remembered (never past its expiry; 0: off)",
    },
    extraIssuers: {
      env: 'BULKHEAD_TRUSTED_ISSUERS',
      schema: z.union([z.array(TrustedIssuerSchema), jsonListEnv(TrustedIssuerSchema)]),
      doc:
        'JSON list of further trusted issuers, e.g. [{"issuer":"https://x.eu.auth0.com/","jwksUri":"https://x.eu.auth0.com/.well-known/jwks.json","tenantClaim":"https://bulkhead/tenant","rolesClaim":"https://bulkhead/roles"}]; ' +
        'tenants choose among them with their "issuers" bindings',
      defaultText: '[]',
    },
    privateKeyFile: {
      env: 'BULKHEAD_ROUTER_PRIVATE_KEY_FILE',
      // Required in the environment (main.ts reads it); in code the key itself may be given instead.
      schema: z.string().min(1).optional(),
      doc: 'call-assertion signing key, PKCS#8 PEM, Ed25519 (required)',
    },
    auditSecretFile: {
      env: 'BULKHEAD_AUDIT_SECRET_FILE',
      schema: z.string().min(1).optional(),
      doc: 'installation secret the per-tenant keys of audit argument digests and of sealed idempotency records are derived from (HKDF, docs/audit.md, docs/tools.md); every router must read the same',
      defaultText: 'the call-assertion key file',
    },
    allowedOrigins: {
      env: 'BULKHEAD_ALLOWED_ORIGINS',
      schema: commaList().optional(),
      doc: 'comma-separated Origin header values /mcp accepts (no CORS: a page of another origin cannot read its answers)',
      defaultText: "the resource URL's origin",
    },
    allowedHosts: {
      env: 'BULKHEAD_ALLOWED_HOSTS',
      schema: commaList().optional(),
      doc: 'comma-separated hostnames the Host header may name',
      defaultText: "the resource URL's hostname",
    },
    sessionIdleTtlSeconds: {
      env: 'BULKHEAD_SESSION_IDLE_TTL_SECONDS',
      schema: int().min(1).max(86_400).default(3600),
      doc: 'idle lifetime of a 2025-11-25 session',
    },
    maxSessionsPerTenant: {
      env: 'BULKHEAD_MAX_SESSIONS_PER_TENANT',
      schema: int().min(1).max(1_000_000).default(MAX_SESSIONS_PER_TENANT),
      doc: "2025-11-25 sessions one tenant holds in Redis; opening one more ends the tenant's least recently used",
    },
    authFailureBurst: {
      env: 'BULKHEAD_AUTH_FAILURE_BURST',
      schema: int().min(0).default(100),
      doc: 'refused access tokens one source address may send before its next ones get 429 unverified (0: no limit)',
    },
    authFailureRefillPerSecond: {
      env: 'BULKHEAD_AUTH_FAILURE_REFILL_PER_SECOND',
      schema: z.coerce.number().positive().default(5),
      doc: "how fast a source address's allowance of refused tokens comes back",
    },
    maxBodyBytes: {
      env: 'BULKHEAD_MAX_BODY_BYTES',
      schema: int()
        .min(1024)
        .default(1024 * 1024),
      doc: 'request body bound, larger gets 413',
    },
    redisUrl,
    namespace,
    sharedToolModules: {
      env: 'BULKHEAD_SHARED_TOOL_MODULES',
      schema: commaList().default([]),
      doc: 'comma-separated files of operator shared tool modules',
      defaultText: 'none',
    },
    docsDir: {
      env: 'BULKHEAD_DOCS_DIR',
      schema: z.string().min(1).default(DEFAULT_DOCS_DIR),
      doc: 'Markdown files docs_search serves',
      defaultText: 'router/tools/shared/docs',
    },
    idempotencyWindowMs,
    idempotencyMaxFailures: {
      env: 'BULKHEAD_IDEMPOTENCY_MAX_FAILURES',
      schema: int().min(1).max(100).default(5),
      doc: "failed attempts of one write (same idempotency key) within the key's window; the next is refused as permanent (retry_limit_exceeded)",
    },
    idempotencyResultBytes: {
      env: 'BULKHEAD_IDEMPOTENCY_RESULT_BYTES',
      schema: int().min(0).default(DEFAULT_KEPT_RESULT_BYTES),
      doc: `bytes of write results each tenant may keep in Redis for replay within the window (Redis's MEMORY USAGE of each plus ${KEPT_ENTRY_BYTES} for its accounting); a write past it is answered, its result not kept, and a replay is answered by the tenant runtime's key table`,
    },
    toolCheckIntervalMs: {
      timer: 'ms',
      env: 'BULKHEAD_TOOL_CHECK_INTERVAL_MS',
      // Tests run the check every few hundred milliseconds; nothing below 100 ms is sensible.
      schema: int().min(100).default(60_000),
      doc: 're-check of tenant tool definitions',
    },
    callTimeoutMs: {
      timer: 'ms',
      env: 'BULKHEAD_CALL_TIMEOUT_MS',
      schema: int().min(100).default(DISPATCH_DEFAULTS.callTimeoutMs),
      doc: 'deadline of a call into a tenant runtime',
    },
    runtimeJobTimeoutMs: {
      timer: 'ms',
      env: 'BULKHEAD_RUNTIME_JOB_TIMEOUT_MS',
      schema: int().min(100).default(60_000),
      doc: "how long a call that needs a runtime (a cold start or wake) waits for the supervisor's job; then it is answered runtime_unavailable. The job's submission to the job queue (Redis) is a Redis step like any other: past BULKHEAD_STATE_DEADLINE_MS, state_unavailable",
    },
    shutdownDrainMs: {
      timer: 'ms',
      env: 'BULKHEAD_SHUTDOWN_DRAIN_MS',
      // Under the engine's default stop timeout (10 s), after which the process is killed.
      schema: int().min(0).default(8_000),
      doc: 'on SIGTERM, how long the router waits for /mcp requests in flight (not listen streams) before it closes every connection',
    },
    shutdownNoticeMs: {
      timer: 'ms',
      env: 'BULKHEAD_SHUTDOWN_NOTICE_MS',
      // Off by default: the development stack has no balancer. With one, set it to what the
      // balancer takes to notice a failing health check, keeping this plus the drain under the stop
      // timeout.
      schema: int().min(0).default(0),
      doc: 'on SIGTERM, how long the router keeps serving with /healthz answering 503, before it stops listening and drains',
    },
    pinWatchIntervalMs: {
      timer: 'ms',
      schema: int().min(10).default(5_000),
      doc: 'how often tenant pins (tools/list_changed) and the tools other routers withhold (router/tools/shared-withheld.ts) are polled',
    },
    routeFreshnessMs: {
      schema: int().min(0).default(DISPATCH_DEFAULTS.routeFreshnessMs),
      doc: 'how long a verified route is trusted before its runtime epoch is checked again',
    },
    runtimeMaxResponseBytes: {
      env: 'BULKHEAD_RUNTIME_MAX_RESPONSE_BYTES',
      schema: int()
        .min(64 * 1024)
        .default(DEFAULT_READ_BOUNDS.maxResponseBytes),
      doc: "ceiling of a runtime's answer; the cap in force is 16x the largest tool payload bound, at least 64 KiB",
    },
    runtimeMaxHeaderBytes: {
      env: 'BULKHEAD_RUNTIME_MAX_HEADER_BYTES',
      schema: int().min(1024).default(DEFAULT_READ_BOUNDS.maxHeaderBytes),
      doc: "a runtime's response header block",
    },
    runtimeMaxStreamMessages: {
      env: 'BULKHEAD_RUNTIME_MAX_STREAM_MESSAGES',
      // Above what a runtime relays of a pack's notifications in one call, with the answer: a pack
      // relaying its share must not have its runtime recycled for a broken read bound.
      schema: int()
        .min(MAX_RELAYED_NOTIFICATIONS_PER_CALL + 1)
        .default(DEFAULT_READ_BOUNDS.maxStreamMessages),
      doc: 'server-sent events in one runtime answer (more than the notifications a runtime relays in one call)',
    },
    runtimeFirstByteMs: {
      timer: 'ms',
      env: 'BULKHEAD_RUNTIME_FIRST_BYTE_MS',
      schema: int().min(100).default(DEFAULT_READ_BOUNDS.firstByteMs),
      doc: "wait for a runtime answer's headers and between its body chunks",
    },
    metricsPort: {
      env: 'BULKHEAD_ROUTER_METRICS_PORT',
      schema: int().min(0).max(65535).optional(),
      doc: 'port for Prometheus /metrics, on its own listener apart from /mcp (0: any free port)',
      defaultText: 'none',
    },
    metricsHost: metricsHost('BULKHEAD_ROUTER_METRICS_HOST'),
    otlpTracesEndpoint,
    traceSampleRatio: {
      env: 'BULKHEAD_TRACE_SAMPLE_RATIO',
      schema: z.coerce.number().min(0).max(1).default(1),
      doc: "share of traces recorded (0-1), by trace id; a client's traceparent is continued, its sampled flag ignored",
    },
    traceIdentities: {
      env: 'BULKHEAD_TRACE_IDENTITIES',
      schema: z
        .preprocess((value) => (typeof value === 'string' ? value === 'true' : value), z.boolean())
        .default(false),
      doc: "request spans carry the user and agent identifiers ('true'); the tenant always",
    },
    metricsTenantLabel: {
      env: 'BULKHEAD_ROUTER_METRICS_TENANT_LABEL',
      schema: z
        .preprocess((value) => (typeof value === 'string' ? value === 'true' : value), z.boolean())
        .default(false),
      doc: "per-call metrics carry a tenant label ('true'): one series per tenant and tool",
    },
    tenantMaxInFlight: {
      env: 'BULKHEAD_TENANT_MAX_IN_FLIGHT',
      schema: int().min(1).max(1_000).default(CONCURRENCY_DEFAULTS.maxInFlight),
      doc: "calls in flight to one tenant's container through this router; the next ones wait",
    },
    tenantMaxQueued: {
      env: 'BULKHEAD_TENANT_MAX_QUEUED',
      schema: int().min(0).max(10_000).default(CONCURRENCY_DEFAULTS.maxQueued),
      doc: 'calls of one tenant waiting for a slot; past it a call is refused concurrency_limit (rate_limit)',
    },
    tenantQueueWaitMs: {
      timer: 'ms',
      env: 'BULKHEAD_TENANT_QUEUE_WAIT_MS',
      schema: int().min(0).max(60_000).default(CONCURRENCY_DEFAULTS.maxWaitMs),
      doc: 'how long a waiting call waits for a slot before it is refused concurrency_limit',
    },
    stateDeadlineMs: {
      timer: 'ms',
      env: 'BULKHEAD_STATE_DEADLINE_MS',
      schema: int().min(50).max(60_000).default(1_000),
      doc: "how long each Redis step of a tool call (tenant record, audit, rate limits, idempotency claim, a cold start's or wake's job submission) may wait; then the call is answered state_unavailable (transient)",
    },
    failOpenSharedReads: {
      env: 'BULKHEAD_FAIL_OPEN_SHARED_READS',
      schema: z
        .preprocess((value) => (typeof value === 'string' ? value === 'true' : value), z.boolean())
        .default(false),
      doc: "with Redis unavailable, serve the read-only shared tools ('true') without a budget or an audit entry; writes and tenant tools always fail closed",
    },
    logLevel,
  },
);

export type RouterConfig = ReturnType<typeof routerConfig.fromEnv>;
