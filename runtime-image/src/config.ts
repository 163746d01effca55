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
  },
);
