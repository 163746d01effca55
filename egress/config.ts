// Everything the egress gateway (egress/main.ts) can be configured with, declared once.
import { z } from 'zod';
import {
  logLevel,
  metricsHost,
  namespace,
  otlpTracesEndpoint,
  redisUrl,
  runDir,
} from '../kernel/config/common.ts';
import { defineConfig, type ConfigFields, type ConfigOf } from '../kernel/config/define-config.ts';

const fields = {
  redisUrl,
  namespace,
  runDir,
  keyFile: {
    env: 'BULKHEAD_EGRESS_KEY_FILE',
    schema: z.string().min(1),
    doc: "the gateway's Ed25519 private key (PKCS#8 PEM, `bulkhead keygen`): it signs each tenant bridge's challenge; the supervisor hands the public key to tenant containers",
  },
  secretsKeyFile: {
    env: 'BULKHEAD_SECRETS_KEY_FILE',
    schema: z.string().min(1).optional(),
    doc: "AES-256 key of the tenants' secret store, to add upstream credentials (without it an upstream that declares one is refused)",
    defaultText: 'none',
  },
  poolSize: {
    env: 'BULKHEAD_EGRESS_POOL_SIZE',
    schema: z.coerce.number().int().min(1).max(16).default(4),
    doc: "idle connections kept open to each egress-enabled tenant's bridge",
  },
  maxConnections: {
    env: 'BULKHEAD_EGRESS_MAX_CONNECTIONS',
    schema: z.coerce.number().int().min(1).max(4096).default(64),
    doc: 'proxy connections per tenant at most, idle and in use together: its CONNECT tunnels at most; past it no new idle connection is opened',
  },
  maxUpstreamSockets: {
    env: 'BULKHEAD_EGRESS_MAX_UPSTREAM_SOCKETS',
    schema: z.coerce.number().int().min(1).max(4096).default(64),
    doc: "upstream connections of one tenant's plain-HTTP requests at most, idle kept-alive ones included (an idle one is closed to make room); past it, with every one in use, a request is refused: 502 `upstream_connections_busy`",
  },
  dialsPerSecond: {
    env: 'BULKHEAD_EGRESS_DIALS_PER_SECOND',
    schema: z.coerce.number().int().min(1).max(10_000).default(100),
    doc: "new connections per second into one tenant's bridge at most: its new proxy connections per second",
  },
  auditBacklog: {
    env: 'BULKHEAD_EGRESS_AUDIT_BACKLOG',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    doc: "audit entries waiting for Redis at most, every tenant's together (an append that failed is kept and retried, in order); from this many on every new request and tunnel is refused, unaudited: 503 `state_unavailable`, reason `audit_unavailable`",
  },
  refreshIntervalMs: {
    timer: 'ms',
    env: 'BULKHEAD_EGRESS_REFRESH_MS',
    schema: z.coerce.number().int().min(100).max(60_000).default(2_000),
    doc: "how often tenants' policies are re-read and their idle connections topped up",
  },
  connectTimeoutMs: {
    timer: 'ms',
    env: 'BULKHEAD_EGRESS_CONNECT_TIMEOUT_MS',
    schema: z.coerce.number().int().min(100).max(120_000).default(10_000),
    doc: 'how long a connection to an upstream may take',
  },
  idleTimeoutMs: {
    timer: 'ms',
    env: 'BULKHEAD_EGRESS_IDLE_TIMEOUT_MS',
    schema: z.coerce.number().int().min(1_000).max(3_600_000).default(120_000),
    doc: 'a proxy connection with no traffic either way for this long is closed',
  },
  metricsPort: {
    env: 'BULKHEAD_EGRESS_METRICS_PORT',
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    doc: 'port for Prometheus /metrics, on a listener of its own (0: any free port)',
    defaultText: 'none',
  },
  metricsHost: metricsHost('BULKHEAD_EGRESS_METRICS_HOST'),
  metricsTenantLabel: {
    env: 'BULKHEAD_EGRESS_METRICS_TENANT_LABEL',
    schema: z
      .preprocess((value) => (typeof value === 'string' ? value === 'true' : value), z.boolean())
      .default(false),
    doc: "per-call metrics carry a tenant label ('true'): one series per tenant, decision and reason",
  },
  otlpTracesEndpoint,
  logLevel,
} satisfies ConfigFields;

export const egressConfig = defineConfig(
  {
    title: 'Egress gateway',
    usage: 'node egress/main.ts',
    summary:
      "Meters tenant containers' outbound HTTP(S): dials each egress-enabled tenant's bridge socket, " +
      'applies its allowlists and upstream budgets, adds upstream credentials, audits every upstream call.',
  },
  fields,
);

export type EgressSettings = ConfigOf<typeof fields>;
