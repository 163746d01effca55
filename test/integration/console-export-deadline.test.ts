// An audit export is under its deadline (BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS) from its first read:
// a Redis that stops answering, its connection still open, holds neither the request nor the second
// pass past it (the console's own client bounds each command too: console-redis-frozen.test.ts).
// A real redis-server of the test's own on a unix socket, frozen with SIGSTOP, a client without
// the console's command deadline (only the export's is under test), a real HTTP server and client.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTrail } from '../../console/audit-views.ts';
import { sendError } from '../../console/http/http-kit.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { callEvent, withTimeout } from '../support/audit-harness.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const TIMEOUT_MS = 1_500;
const CUT = `the audit export of acme ran past its ${TIMEOUT_MS / 1000} s (BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS) and was cut`;
const name = `t-export-deadline-${randomBytes(3).toString('hex')}`;

let server: PrivateRedis;
let redis: Redis;
let http: Server;
let url: string;
/** The export the HTTP server is running. */
let exported: Promise<void> | undefined;
/** Runs as the export's second pass starts its read of Redis. */
let betweenPasses: (() => void) | undefined;

beforeAll(async () => {
  const password = randomBytes(12).toString('hex');
  server = await startPrivateRedis({ name, password, unixSocket: true });
  // One retry as the console's client, but no command deadline: the export's own deadline is under test.
  redis = new Redis({ path: server.socketPath!, password, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const trail = new AuditTrail({ redis, prefix: name });
  const registry = new TenantRegistry({ redis, prefix: name });
  await registry.create({ id: 'acme', plan: planByName('small'), isolation: 'runc' });
  for (let i = 0; i < 20; i++) await trail.append(callEvent('acme', 'tool1'));
  http = createServer((req, res) => {
    let passes = 0;
    const read = trail.read.bind(trail);
    const between = Object.create(trail, {
      read: {
        value: (tenant: string) => {
          passes += 1;
          if (passes === 2) betweenPasses?.();
          return read(tenant);
        },
      },
    }) as AuditTrail;
    exported = exportTrail({ trail: between, tenant: 'acme' }, new URLSearchParams(), res, {
      timeoutMs: TIMEOUT_MS,
      admit: () => registry.require('acme'),
    });
    // As the console answers a failed request (console/console-server.ts).
    exported.catch((error: unknown) => (res.headersSent ? res.destroy() : sendError(res, error)));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/acme`;
});

afterAll(async () => {
  http?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('an audit export whose Redis stops answering', () => {
  it('is refused at its deadline when Redis stops before the export starts', async () => {
    server.freeze();
    try {
      const response = await withTimeout(fetch(url), 10_000);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: 'state_unavailable', message: CUT });
      await expect(exported).rejects.toThrow(CUT);
    } finally {
      server.thaw();
    }
  });

  it('is cut at its deadline when Redis stops between its passes', async () => {
    betweenPasses = () => server.freeze();
    try {
      // Cut, not ended (fetch's TypeError): ended, it would look whole, its header saying "intact".
      const download = fetch(url).then((response) => response.text());
      await expect(withTimeout(download, 10_000)).rejects.toThrow(TypeError);
      await expect(exported).rejects.toThrow(CUT);
    } finally {
      betweenPasses = undefined;
      server.thaw();
    }
  });

  it('is written whole once Redis answers again', async () => {
    const response = await withTimeout(fetch(url), 10_000);
    expect((await response.text()).trim().split('\n')).toHaveLength(20);
  });
});
