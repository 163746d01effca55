// What the tenant runtime reads from its environment: the supervisor sets these on the container
// (supervisor/docker/container-spec.ts), with the router's public key and, where the installation
// changes it, the idempotency window.
import { z } from 'zod';
import { idempotencyWindowMs } from '../../kernel/config/common.ts';
import { defineConfig } from '../../kernel/config/define-config.ts';
import { PACK_SECRETS_FILE, PACKS_DIR } from '../../kernel/packs/enabled-packs.ts';
import { REFERENCE_PACK } from '../../kernel/packs/pack-manifest.ts';
import {
  CONTAINER_DATA_DIR,
  CONTAINER_SOCKET_DIR,
  CONTAINER_SOCKET_NAME,
} from '../../kernel/wire/runtime-endpoint.ts';
import { DEFAULT_EGRESS_PORT, EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { PACK_CONFINEMENTS } from './packs/pack-confinement.ts';

export const runtimeConfig = defineConfig(
  {
    title: 'Tenant runtime',
    usage: 'node /app/server.mjs',
    summary:
      "The MCP server inside each tenant's container, started by the supervisor: serves the records " +
      "tools and the tools of the enabled packs on a unix socket to calls that carry the router's assertion.",
  },
  {
    tenantId: {
      env: 'BULKHEAD_TENANT_ID',
      schema: z.string().min(1),
      doc: 'the tenant this runtime serves: the audience its call assertions must name',
    },
    routerPublicKey: {
      env: 'BULKHEAD_ROUTER_PUBLIC_KEY',
      schema: z.string().min(1),
      doc: "the router's call-assertion public key (SPKI PEM or JWK)",
    },
    socketPath: {
      env: 'BULKHEAD_SOCKET_PATH',
      schema: z.string().min(1).default(`${CONTAINER_SOCKET_DIR}/${CONTAINER_SOCKET_NAME}`),
      doc: 'the unix socket it listens on',
    },
    dataDir: {
      env: 'BULKHEAD_DATA_DIR',
      schema: z.string().min(1).default(CONTAINER_DATA_DIR),
      doc: "the tenant's volume: each pack's directory (packs/<name>/, the records database in packs/records/) and the runtime's key table",
    },
    idempotencyWindowMs,
    egressSocketPath: {
      env: 'BULKHEAD_EGRESS_SOCKET_PATH',
      schema: z.string().min(1).default(`${CONTAINER_SOCKET_DIR}/${EGRESS_SOCKET_NAME}`),
      doc: "the egress bridge's unix socket, which the egress gateway dials (runtime-image/src/egress-bridge.ts)",
    },
    egressPublicKey: {
      env: 'BULKHEAD_EGRESS_PUBLIC_KEY',
      schema: z.string().min(1).optional(),
      doc: "the egress gateway's Ed25519 public key (SPKI PEM): a connection to the bridge's socket is the gateway's only with a signature it verifies; unset: egress answers 503",
      defaultText: 'none',
    },
    egressPort: {
      env: 'BULKHEAD_EGRESS_PORT',
      schema: z.coerce.number().int().min(1).max(65000).default(DEFAULT_EGRESS_PORT),
      doc: "loopback port of the tenant-wide HTTP(S) proxy; each enabled pack gets one of the ports after it, in the pack list's order",
    },
    egressWaitMs: {
      timer: 'ms',
      env: 'BULKHEAD_EGRESS_WAIT_MS',
      schema: z.coerce.number().int().min(1).max(60_000).default(2_000),
      doc: 'how long a proxy client waits for a gateway connection before a 503 (egress off or the gateway down)',
    },
    packsDir: {
      env: 'BULKHEAD_PACKS_DIR',
      schema: z.string().min(1).default(PACKS_DIR),
      doc: "the operator's packs in the image, with enabled.json (absent: no packs); its order gives each pack its egress port",
    },
    recordsPackDir: {
      env: 'BULKHEAD_RECORDS_PACK_DIR',
      schema: z.string().min(1).default(`${PACKS_DIR}/${REFERENCE_PACK}`),
      doc: 'the reference pack (the records tools) in the image, with its manifest: started for every tenant',
    },
    packConfinement: {
      env: 'BULKHEAD_PACK_CONFINEMENT',
      schema: z.enum(PACK_CONFINEMENTS).default('landlock'),
      doc: "landlock: a pack starts only confined by Landlock to its own directories and egress port; sandbox: confined where the kernel offers Landlock, else the sandbox (gVisor) is the pack's boundary",
    },
    packSecretsFile: {
      env: 'BULKHEAD_PACK_SECRETS_FILE',
      schema: z.string().min(1).default(PACK_SECRETS_FILE),
      doc: 'the secrets delivered for the packs: read once at start, then unlinked',
    },
    packCallTimeoutMs: {
      timer: 'ms',
      env: 'BULKHEAD_PACK_CALL_TIMEOUT_MS',
      schema: z.coerce.number().int().min(100).default(60_000),
      doc: "how long a pack may take to answer one request before it is killed and restarted; for a tool call, the pack's own time: a wait for the client's answer to the pack's question does not count",
    },
    packMaxMessageBytes: {
      env: 'BULKHEAD_PACK_MAX_MESSAGE_BYTES',
      schema: z.coerce
        .number()
        .int()
        .min(4096)
        .default(4 * 1024 * 1024),
      doc: "the largest message a pack may write on its stdout; a longer one kills the pack. Also how much of a pack's lines that may be answers, past its line budget, is parsed and dropped in one interval before reading pauses, and the most of a pack's listing (its tools, resources and prompts together) the runtime holds: past it the pack is not started (docs/pack-runtime.md)",
    },
    codeCache: {
      env: 'BULKHEAD_CODE_CACHE',
      schema: z.enum(['on', 'off', 'write']).default('on'),
      doc:
        "the image's V8 code cache, read by the entry before this configuration (runtime-image/src/code-cache-entry.ts): " +
        'off compiles the bundle as if there were none (a benchmark baseline); write is for the image build',
    },
    packCrashThreshold: {
      env: 'BULKHEAD_PACK_CRASH_THRESHOLD',
      schema: z.coerce.number().int().min(1).default(3),
      doc: "a pack's failures within a minute that open its circuit (it is not restarted until the backoff ends)",
    },
  },
);
