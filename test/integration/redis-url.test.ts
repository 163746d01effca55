// Full Redis URLs against a redis-server of this test's own (test/support/private-redis.ts): a
// password that needs percent-encoding, an ACL user, a database other than 0, TLS. The registry
// (its Lua scripts included) and a BullMQ job work through the connection `installation()` builds,
// their keys land in the URL's database, and a wrong password fails without being printed.
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const PASSWORD = 'p@ss:w/rd% #?';
const USER_PASSWORD = 'another secret';
const encoded = encodeURIComponent;

let server: PrivateRedis;
let devDir: string;
let ca: string;

beforeAll(async () => {
  server = await startPrivateRedis({
    password: PASSWORD,
    users: [['bulkhead-user', 'on', `>${USER_PASSWORD}`, '~*', '&*', '+@all']],
    tls: true,
    unixSocket: true,
  });
  ca = await readFile(server.caFile!, 'utf8');
  devDir = await mkdtemp(join(tmpdir(), 'bulkhead-redis-url-'));
});

afterAll(async () => {
  await server?.stop();
  if (devDir) await rm(devDir, { recursive: true, force: true });
});

/** A client on `inst`'s connection; `extra` only adds what the test needs (the test CA). */
function client(inst: Installation, extra: RedisOptions = {}): Redis {
  return new Redis({ ...inst.redis, ...extra });
}

/** Why a client on `inst`'s connection (plus `extra`) cannot connect, as its first error says. */
async function connectError(inst: Installation, extra: RedisOptions = {}): Promise<Error> {
  const redis = client(inst, {
    ...extra,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    const [[error]] = await Promise.all([once(redis, 'error'), redis.connect().catch(() => undefined)]);
    return error as Error;
  } finally {
    redis.disconnect();
  }
}

async function keysIn(db: number, pattern: string): Promise<string[]> {
  const admin = new Redis({ port: server.port, password: PASSWORD, db });
  try {
    return (await admin.keys(pattern)).sort();
  } finally {
    admin.disconnect();
  }
}

/** Create, update, read and delete a tenant, with an audit entry: every Lua script of the two stores. */
async function registryRoundTrip(redis: Redis, inst: Installation): Promise<void> {
  const registry = new TenantRegistry({ redis, prefix: inst.registryPrefix });
  const created = await registry.create({ id: 'acme', plan: planByName('small'), isolation: 'runc' });
  const updated = await registry.update('acme', {
    expectedGeneration: created.generation,
    changes: { displayName: 'Acme' },
    author: { actor: 'test' },
  });
  expect(updated.generation).toBe(2);
  expect((await registry.list()).map((t) => [t.id, t.displayName])).toEqual([['acme', 'Acme']]);
  const audit = new AuditTrail({ redis, prefix: inst.registryPrefix });
  await audit.append({
    tenant: 'acme',
    user: 'u',
    agent: 'a',
    tool: 'whoami',
    decision: 'permit',
    reason: 'ok',
  });
  expect(await audit.verify('acme')).toMatchObject({ ok: true, entries: 1 });
  expect((await registry.history('acme')).map((e) => e.action)).toEqual(['create', 'update']);
  expect(await registry.delete('acme')).toBe(true);
  expect(await registry.get('acme')).toBeUndefined();
}

/** One job through a BullMQ queue and worker on `inst`'s connection and jobs prefix. */
async function bullmqRoundTrip(inst: Installation, trust: { tls?: { ca: string } } = {}): Promise<unknown> {
  const connection = { ...inst.redis, ...trust, maxRetriesPerRequest: null };
  const queue = new Queue('url-check', { connection, prefix: inst.jobsPrefix });
  // From the stream's start, not '$': the queue is new, and a late first read cannot miss the event.
  const events = new QueueEvents('url-check', { connection, prefix: inst.jobsPrefix, lastEventId: '0-0' });
  const worker = new Worker(
    'url-check',
    (job) => Promise.resolve({ echoed: (job.data as { n: number }).n * 2 }),
    {
      connection,
      prefix: inst.jobsPrefix,
    },
  );
  try {
    const job = await queue.add('double', { n: 21 });
    return await job.waitUntilFinished(events, 10_000);
  } finally {
    await Promise.all([worker.close(), events.close(), queue.close()]);
  }
}

describe('Redis URLs with password, user, database and TLS', () => {
  it('runs the registry and the audit trail in the URL database, with a percent-encoded password', async () => {
    const inst = installation({
      namespace: 'url-db3',
      redisUrl: `redis://:${encoded(PASSWORD)}@127.0.0.1:${server.port}/3`,
    });
    expect(inst.redis).toMatchObject({ password: PASSWORD, db: 3 });
    const redis = client(inst);
    try {
      await registryRoundTrip(redis, inst);
      expect(await keysIn(3, 'bulkhead:url-db3:*')).toEqual([
        'bulkhead:url-db3:audit:acme',
        'bulkhead:url-db3:audit:acme:head',
        'bulkhead:url-db3:tenant-changes',
        'bulkhead:url-db3:uid-seq',
      ]);
      expect(await keysIn(0, 'bulkhead:url-db3:*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('runs a BullMQ job as an ACL user in the URL database', async () => {
    const inst = installation({
      namespace: 'url-db4',
      redisUrl: `redis://bulkhead-user:${encoded(USER_PASSWORD)}@127.0.0.1:${server.port}/4`,
    });
    expect(await bullmqRoundTrip(inst)).toEqual({ echoed: 42 });
    expect((await keysIn(4, 'bulkhead:url-db4:jobs:url-check:*')).length).toBeGreaterThan(0);
    expect(await keysIn(0, 'bulkhead:url-db4:*')).toEqual([]);
  });

  it('connects the supervisor client (BullMQ) with the same options', async () => {
    const inst = installation({
      namespace: 'url-db6',
      redisUrl: `redis://bulkhead-user:${encoded(USER_PASSWORD)}@127.0.0.1:${server.port}/6`,
    });
    const runtimes = new RuntimeClient({ redis: inst.redis, prefix: inst.jobsPrefix, timeoutMs: 10_000 });
    try {
      await runtimes.ready();
      await runtimes.requestRecycle('acme', 'url test');
      expect(await keysIn(6, 'bulkhead:url-db6:jobs:runtime:*')).toContain(
        'bulkhead:url-db6:jobs:runtime:wait',
      );
    } finally {
      await runtimes.close();
    }
  });

  it('refuses a wrong password, and the CLI does not print the password it was given', async () => {
    const wrong = 'wrong-pass-1234';
    const inst = installation({
      namespace: 'url-bad',
      redisUrl: `redis://:${wrong}@127.0.0.1:${server.port}/1`,
    });
    expect((await connectError(inst)).message).toMatch(/WRONGPASS|invalid password/);
    const cli = await runCli(
      {
        namespace: 'url-bad',
        devDir,
        extra: { BULKHEAD_REDIS_URL: `redis://:${wrong}@127.0.0.1:${server.port}/1` },
      },
      ['list'],
    );
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`redis://:***@127.0.0.1:${server.port}/1`);
    expect(cli.stdout + cli.stderr).not.toContain(wrong);
  });

  it('runs the registry, the audit trail and a BullMQ job over the unix socket (unix:) as an ACL user', async () => {
    const url = `unix://bulkhead-user:${encoded(USER_PASSWORD)}@localhost${server.socketPath!}?db=8`;
    const inst = installation({ namespace: 'url-unix', redisUrl: url });
    expect(inst.redis).toStrictEqual({
      path: server.socketPath,
      username: 'bulkhead-user',
      password: USER_PASSWORD,
      db: 8,
    });
    const redis = client(inst);
    try {
      await registryRoundTrip(redis, inst);
      // Redis flags a client on its unix socket `U`.
      expect(await redis.call('CLIENT', 'INFO')).toMatch(/ flags=\w*U/);
    } finally {
      redis.disconnect();
    }
    expect(await bullmqRoundTrip(inst)).toEqual({ echoed: 42 });
    expect(await keysIn(8, 'bulkhead:url-unix:audit:*')).toEqual([
      'bulkhead:url-unix:audit:acme',
      'bulkhead:url-unix:audit:acme:head',
    ]);
    expect((await keysIn(8, 'bulkhead:url-unix:jobs:url-check:*')).length).toBeGreaterThan(0);
    const wrong = installation({
      namespace: 'url-unix-bad',
      redisUrl: `unix://:wrong-pass@localhost${server.socketPath!}`,
    });
    expect((await connectError(wrong)).message).toMatch(/WRONGPASS|invalid password/);
  });

  describe('over TLS (rediss:)', () => {
    const tlsOf = (inst: Installation) => ('tls' in inst.redis ? inst.redis.tls : undefined);
    const tlsUrl = (namespace: string, db: number): Installation =>
      installation({
        namespace,
        redisUrl: `rediss://:${encoded(PASSWORD)}@localhost:${server.tlsPort}/${db}`,
      });

    it('verifies the server certificate: without the CA the connection is refused', async () => {
      const inst = tlsUrl('url-tls-untrusted', 5);
      expect(tlsOf(inst)).toEqual({ servername: 'localhost' });
      expect((await connectError(inst)).message).toMatch(/certificate/);
    });

    it('runs the registry and a BullMQ job once the CA is trusted', async () => {
      const inst = tlsUrl('url-tls', 5);
      const trust = { tls: { ...tlsOf(inst), ca } };
      const redis = client(inst, trust);
      try {
        await registryRoundTrip(redis, inst);
      } finally {
        redis.disconnect();
      }
      expect(await bullmqRoundTrip(inst, trust)).toEqual({ echoed: 42 });
      expect(await keysIn(5, 'bulkhead:url-tls:audit:*')).toEqual([
        'bulkhead:url-tls:audit:acme',
        'bulkhead:url-tls:audit:acme:head',
      ]);
    });

    it('serves the CLI (registry and supervisor client) from the URL alone, the CA from NODE_EXTRA_CA_CERTS', async () => {
      const inst = tlsUrl('url-tls-cli', 7);
      const redis = client(inst, { tls: { ...tlsOf(inst), ca } });
      try {
        await new TenantRegistry({ redis, prefix: inst.registryPrefix }).create({
          id: 'seen-over-tls',
          plan: planByName('small'),
          isolation: 'runc',
        });
      } finally {
        redis.disconnect();
      }
      // The CLI's `list` also asks the supervisor for each runtime; no supervisor runs here, so a
      // BullMQ worker on the same TLS connection answers that no runtime exists.
      const worker = new Worker('runtime', () => Promise.resolve({ ok: true, value: { status: null } }), {
        connection: { ...inst.redis, tls: { ...tlsOf(inst), ca }, maxRetriesPerRequest: null },
        prefix: inst.jobsPrefix,
      });
      try {
        const cli = await runCli(
          {
            namespace: 'url-tls-cli',
            devDir,
            extra: {
              BULKHEAD_REDIS_URL: `rediss://:${encoded(PASSWORD)}@localhost:${server.tlsPort}/7`,
              NODE_EXTRA_CA_CERTS: server.caFile!,
            },
          },
          ['list'],
        );
        expect(cli.stderr).toBe('');
        expect(cli.stdout).toMatch(/^seen-over-tls\s+active\s+.*runtime=absent/m);
        expect(cli.code).toBe(0);
      } finally {
        await worker.close();
      }
    });
  });
});
