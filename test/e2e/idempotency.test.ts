// Idempotent writes against the real stack: router, Redis, supervisor, a real tenant container and
// its SQLite volume. The container runs the -faults test build of the runtime image, whose only
// difference is a hook that kills the runtime right after a write commits (production bundles
// have it compiled out), to prove a retry after that crash writes nothing twice.
import { createHash } from 'node:crypto';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { idempotencyKey, unreadableRecordsKey } from '../../kernel/redis/keys.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
const TENANT = 'idem';
const logs: { msg?: string; tenant?: string }[] = [];

async function connect(): Promise<Client> {
  const token = await stack.agentToken(TENANT);
  const client = new Client(
    { name: 'idem', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

async function volumePath(): Promise<string> {
  const volume = await stack.ns.docker.getVolume(`bulkhead-${stack.ns.namespace}-${TENANT}-data`).inspect();
  return volume.Mountpoint;
}

async function rows(title: string): Promise<{ id: string }[]> {
  const db = new DatabaseSync(`${await volumePath()}/packs/records/records.db`, { readOnly: true });
  try {
    return db.prepare('SELECT id FROM records WHERE title = ?').all(title) as { id: string }[];
  } finally {
    db.close();
  }
}

async function containerStartedAt(): Promise<string> {
  const [info] = await stack.ns.docker.listContainers({
    all: true,
    filters: { name: [`bulkhead-${stack.ns.namespace}-${TENANT}`] },
  });
  return (await stack.ns.docker.getContainer(info!.Id).inspect()).State.StartedAt;
}

/**
 * A result's JSON without the budget `_meta` the rate limiter adds to each call (the caller's live
 * budget, different on every call): the rest of a replay is the first result byte for byte.
 */
function replayText(result: CallToolResult): string {
  const { [BUDGET_META_KEY]: budget, ...meta } = result._meta ?? {};
  expect(budget).toBeDefined();
  return JSON.stringify({ ...result, _meta: meta });
}

function create(client: Client, title: string, key: string, extra: Record<string, unknown> = {}) {
  return client.callTool({ name: 'records_create', arguments: { title, idempotency_key: key, ...extra } });
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as (typeof logs)[number]);
      done();
    },
  });
  stack = await startTestStack('idem', {
    image: `${RUNTIME_IMAGE}-faults`,
    logger: pino({ level: 'info' }, sink),
    router: { metricsPort: 0 },
  });
  // These calls come from agents acting alone (client credentials): open the tools to them.
  await stack.onboard(TENANT, { tools: openToAgentsAlone('all') });
});

afterAll(async () => {
  await stack?.close();
});

describe('idempotent writes', () => {
  it('replays the identical result for the same key and writes one row', async () => {
    const client = await connect();
    const first = await create(client, 'replayed', 'replay-key-0001');
    expect(first.isError).toBeFalsy();
    const second = await create(client, 'replayed', 'replay-key-0001');
    expect(replayText(second)).toBe(replayText(first));
    const other = await connect();
    expect(replayText(await create(other, 'replayed', 'replay-key-0001'))).toBe(replayText(first));
    expect(await rows('replayed')).toHaveLength(1);
    await Promise.all([client.close(), other.close()]);
  });

  it('answers the same key with different arguments with a conflict and writes nothing', async () => {
    const client = await connect();
    await create(client, 'original', 'conflict-key-01');
    const clash = await create(client, 'different', 'conflict-key-01');
    expect(clash.isError).toBe(true);
    expect(clash.structuredContent).toMatchObject({
      error: { error_class: 'conflict', code: 'idempotency_key_reused', retryable: false },
    });
    expect(await rows('different')).toHaveLength(0);
    expect(await rows('original')).toHaveLength(1);
    await client.close();
  });

  it('runs 10 concurrent calls with one key exactly once', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect()));
    const results = await Promise.all(clients.map((c) => create(c, 'concurrent', 'concurrent-key-1')));
    const texts = new Set(results.map(replayText));
    expect(texts.size).toBe(1);
    expect(results[0]!.isError).toBeFalsy();
    expect(await rows('concurrent')).toHaveLength(1);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('keys are scoped per tool: the same key on another tool is a separate write', async () => {
    const client = await connect();
    const created = await create(client, 'scoped', 'scoped-key-0001');
    const id = (created.structuredContent as { record: { id: string } }).record.id;
    const updated = await client.callTool({
      name: 'records_update',
      arguments: { id, title: 'scoped-updated', idempotency_key: 'scoped-key-0001' },
    });
    expect(updated.isError).toBeFalsy();
    expect(await rows('scoped-updated')).toHaveLength(1);
    await client.close();
  });

  it('survives the container being killed after the write commits: the retry writes nothing twice', async () => {
    const volume = await volumePath();
    const tenant = await stack.registry.require(TENANT);
    await mkdir(`${volume}/.faults`, { recursive: true });
    await writeFile(`${volume}/.faults/crash-after-commit`, '');
    await chown(`${volume}/.faults`, tenant.uid, tenant.uid);
    await chown(`${volume}/.faults/crash-after-commit`, tenant.uid, tenant.uid);
    const startedBefore = await containerStartedAt();

    const client = await connect();
    let result: CallToolResult | undefined;
    const attempts: string[] = [];
    for (let attempt = 0; attempt < 5 && !result; attempt++) {
      const outcome = await create(client, 'crash-once', 'crash-key-00001');
      const error = (outcome.structuredContent as { error?: { error_class: string; code: string } }).error;
      attempts.push(error ? `${error.error_class}:${error.code}` : 'ok');
      if (!error) result = outcome;
      else {
        expect(error.error_class).toBe('transient');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    expect(result, attempts.join(',')).toBeDefined();
    // The runtime really died after committing (the marker is consumed, the container restarted)...
    expect(await containerStartedAt()).not.toBe(startedBefore);
    const committed = await rows('crash-once');
    // ...and the answer the client finally got is the row committed before the crash, only once.
    expect(committed).toHaveLength(1);
    expect((result!.structuredContent as { record: { id: string } }).record.id).toBe(committed[0]!.id);
    // The call was cut off mid-flight after the commit: the router never re-sends a call that may
    // have been delivered (at most once), so the agent got a structured transient error and retried
    // with the same key; the runtime answered that retry from its key table. Still one row.
    expect(attempts[0], attempts.join(',')).toMatch(/^transient:/);
    const agentRetry = await create(client, 'crash-once', 'crash-key-00001');
    expect(replayText(agentRetry)).toBe(replayText(result!));
    expect(await rows('crash-once')).toHaveLength(1);
    await client.close();
  });

  it("never replays a record changed in Redis: the runtime answers the retry, and the tenant's audit trail shows it", async () => {
    const client = await connect();
    const first = await create(client, 'tampered', 'tamper-key-0001');
    expect(first.isError).toBeFalsy();
    const redis = new Redis(stack.ns.installation.redis);
    try {
      const prefix = stack.ns.installation.registryPrefix;
      const keyHash = createHash('sha256').update('tamper-key-0001').digest('base64url');
      const { createdAt: tenantCreatedAt } = await stack.registry.require(TENANT);
      const place = idempotencyKey(prefix, {
        tenant: TENANT,
        tenantCreatedAt,
        tool: 'records_create',
        keyHash,
      });
      const raw = (await redis.get(place)) ?? '';
      expect(raw).toMatch(/^v1\./);
      expect(raw).not.toContain('tampered');
      // Someone with Redis's write access changes one byte of the sealed result.
      const bytes = Buffer.from(raw.slice(3), 'base64url');
      bytes[40] = bytes[40]! ^ 1;
      await redis.set(place, `v1.${bytes.toString('base64url')}`, 'KEEPTTL');
      const retried = await create(client, 'tampered', 'tamper-key-0001');
      // The router did not replay it: the write ran again and the records pack answered from its
      // key table, the same record, still one row.
      expect(retried.isError).toBeFalsy();
      expect(replayText(retried)).toBe(replayText(first));
      expect(await rows('tampered')).toHaveLength(1);
      const trail = await new AuditTrail({ redis, prefix }).entries(TENANT);
      expect(trail.filter((e) => e.kind === 'security')).toEqual([
        expect.objectContaining({
          tool: 'records_create',
          decision: 'deny',
          reason: 'idempotency_record_unreadable',
        }),
      ]);
      expect(await redis.hget(unreadableRecordsKey(prefix), TENANT)).toBe('1');
      const metrics = await (await fetch(stack.router.metricsUrl!)).text();
      expect(metrics).toMatch(/^bulkhead_idempotency_records_unreadable_total\{tool="records_create"\} 1$/m);
    } finally {
      redis.disconnect();
      await client.close();
    }
  });

  it('reports a bulk write with partial success explicitly: which items failed and why', async () => {
    const client = await connect();
    await create(client, 'taken-1', 'bulk-seed-00001', { ref: 'taken-1' });
    await create(client, 'taken-2', 'bulk-seed-00002', { ref: 'taken-2' });
    const items = Array.from({ length: 10 }, (_, i) => ({
      title: `bulk-${i}`,
      ref: i === 3 ? 'taken-1' : i === 7 ? 'taken-2' : `bulk-ref-${i}`,
      quantity: i,
    }));
    const result = await client.callTool({
      name: 'records_bulk_create',
      arguments: { items, idempotency_key: 'bulk-key-000001' },
    });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as {
      status: string;
      total: number;
      succeeded: number;
      failed: number;
      results: { index: number; status: string; error?: { error_class: string; code: string } }[];
    };
    expect(out).toMatchObject({ status: 'partial', total: 10, succeeded: 8, failed: 2 });
    expect(out.results.filter((r) => r.status === 'failed')).toEqual([
      expect.objectContaining({
        index: 3,
        error: expect.objectContaining({ error_class: 'conflict', code: 'duplicate_ref' }),
      }),
      expect.objectContaining({
        index: 7,
        error: expect.objectContaining({ error_class: 'conflict', code: 'duplicate_ref' }),
      }),
    ]);
    const replay = await client.callTool({
      name: 'records_bulk_create',
      arguments: { items, idempotency_key: 'bulk-key-000001' },
    });
    expect(replayText(replay)).toBe(replayText(result));
    expect(await rows('bulk-0')).toHaveLength(1);
    await client.close();
  });
});
