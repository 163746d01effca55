// What the tenant runtime reads from its environment: the supervisor sets these on the container
// (supervisor/docker/container-spec.ts), with the router's public key and, where the installation
// changes it, the idempotency window.
import { z } from 'zod';
import { idempotencyWindowMs } from '../../kernel/config/common.ts';
import { defineConfig } from '../../kernel/config/define-config.ts';
import {
  CONTAINER_DATA_DIR,
  CONTAINER_SOCKET_DIR,
  CONTAINER_SOCKET_NAME,
} from '../../kernel/wire/runtime-endpoint.ts';
import { DEFAULT_EGRESS_PORT, EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';

export const runtimeConfig = defineConfig(
  {
    title: 'Tenant runtime',
    usage: 'node /app/server.mjs',
    summary:
      "The MCP server inside each tenant's container, started by the supervisor: serves the records " +
      "tools on a unix socket to calls that carry the router's assertion.",
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
    egressSocketPath: {
      env: 'BULKHEAD_EGRESS_SOCKET_PATH',
      schema: z.string().min(1).default(`${CONTAINER_SOCKET_DIR}/${EGRESS_SOCKET_NAME}`),
      doc: "the egress bridge's unix socket, which the egress gateway dials (runtime-image/src/egress-bridge.ts)",
    },
    egressPort: {
      env: 'BULKHEAD_EGRESS_PORT',
      schema: z.coerce.number().int().min(1).max(65000).default(DEFAULT_EGRESS_PORT),
      doc: "loopback port of the tenant-wide HTTP(S) proxy; each enabled pack gets one of the ports after it, in the pack list's order",
    },
    egressWaitMs: {
      env: 'BULKHEAD_EGRESS_WAIT_MS',
      schema: z.coerce.number().int().min(1).max(60_000).default(2_000),
      doc: 'how long a proxy client waits for a gateway connection before a 503 (egress off or the gateway down)',
    },
    packsFile: {
      env: 'BULKHEAD_PACKS_FILE',
      schema: z.string().min(1).default('/opt/bulkhead/packs/enabled.json'),
      doc: "the image's approved pack list: its order gives each pack its egress port",
    },
  },
);
