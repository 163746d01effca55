// What the tenant runtime reads from its environment: the supervisor sets these on the container
// (supervisor/docker/container-spec.ts), with the router's public key and, where the installation
// changes it, the idempotency window.
import { z } from 'zod';
import { idempotencyWindowMs } from '../../kernel/config/common.ts';
import { defineConfig } from '../../kernel/config/define-config.ts';
import { PACK_SECRETS_FILE, PACKS_DIR } from '../../kernel/packs/enabled-packs.ts';
import {
  CONTAINER_DATA_DIR,
  CONTAINER_SOCKET_DIR,
  CONTAINER_SOCKET_NAME,
} from '../../kernel/wire/runtime-endpoint.ts';

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
      doc: "the tenant's volume: its records database",
    },
    idempotencyWindowMs,
    packsDir: {
      env: 'BULKHEAD_PACKS_DIR',
      schema: z.string().min(1).default(PACKS_DIR),
      doc: "the operator's packs in the image, with enabled.json (absent: no packs)",
    },
    packSecretsFile: {
      env: 'BULKHEAD_PACK_SECRETS_FILE',
      schema: z.string().min(1).default(PACK_SECRETS_FILE),
      doc: 'the secrets delivered for the packs: read once at start, then unlinked',
    },
    packCallTimeoutMs: {
      env: 'BULKHEAD_PACK_CALL_TIMEOUT_MS',
      schema: z.coerce.number().int().min(100).default(60_000),
      doc: 'how long a pack may take to answer one request before it is killed and restarted',
    },
    packMaxMessageBytes: {
      env: 'BULKHEAD_PACK_MAX_MESSAGE_BYTES',
      schema: z.coerce
        .number()
        .int()
        .min(4096)
        .default(4 * 1024 * 1024),
      doc: 'the largest message a pack may write on its stdout; a longer one kills the pack',
    },
    packCrashThreshold: {
      env: 'BULKHEAD_PACK_CRASH_THRESHOLD',
      schema: z.coerce.number().int().min(1).default(3),
      doc: "a pack's failures within a minute that open its circuit (it is not restarted until the backoff ends)",
    },
  },
);
