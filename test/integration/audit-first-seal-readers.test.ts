// A tenant's first sealed segment makes its segment directory, and the console reads that directory
// for every view of the tenant (its detail's recent errors, TenantViews.detail) as another UID in
// the readers' group (deploy/compose/console.yml). In the compose stack the operator's suspend is
// a new tenant's first audit entry, sealed within the supervisor's 2 s interval, right when the
// page reads the tenant again: a directory found with the sealer's own mode (0700, between its
// mkdir and its chmod) failed that read with EACCES, and the detail answered 500 instead of the
// tenant (test/e2e/compose-console.test.ts read it as a tenant with no status, under load). The
// sealer is held at each step that makes the directory (a frozen step: the real call follows once
// the test lets it), and the console's read, in a process of the console's kind (another UID, in
// the readers' group, the suite runs as root), must never fail meanwhile. Real files, a real Redis
// of the test's own (over TCP: the shared one's socket is root's alone), real processes.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type * as FsPromises from 'node:fs/promises';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { ROOT } from '../support/compose.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

/** Holds the next call of one step (chown or chmod) until the test frees it. */
const hold = vi.hoisted(() => {
  let armed: { step: string; reached: () => void; released: Promise<void> } | undefined;
  return {
    arm(step: string): { reached: Promise<void>; free: () => void } {
      let reached = (): void => undefined;
      let free = (): void => undefined;
      const reachedP = new Promise<void>((resolve) => (reached = resolve));
      const released = new Promise<void>((resolve) => (free = resolve));
      armed = { step, reached, released };
      return { reached: reachedP, free };
    },
    async at(step: string): Promise<void> {
      const now = armed;
      if (now?.step !== step) return;
      armed = undefined;
      now.reached();
      await now.released;
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const chown: typeof real.chown = async (...args) => (await hold.at('chown'), real.chown(...args));
  const chmod: typeof real.chmod = async (...args) => (await hold.at('chmod'), real.chmod(...args));
  return { ...real, default: { ...real, chown, chmod }, chown, chmod };
});

const READER_GID = 54_331;
const CONSOLE_UID = 54_330;
const PASSWORD = 'first-seal-readers';
const PREFIX = 'first-seal:';

let base: string;
let auditDir: string;
let publicKeyFile: string;
let server: PrivateRedis;
let url: string;
let redis: Redis;
let trail: AuditTrail;
let registry: TenantRegistry;
let sealer: AuditSealer;

type Read = { ok?: boolean; entries?: number; problem?: string; segments?: number; error?: string };

/** The console's read of the tenant's trail for its detail, as the console's UID in the readers' group. */
function consoleRead(tenant: string, createdAt: string): Promise<Read> {
  const args = [join(ROOT, 'test/support/trail-reader-main.ts'), url, PREFIX, tenant, createdAt];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, auditDir, publicKeyFile],
      { uid: CONSOLE_UID, gid: READER_GID, env: {}, timeout: 30_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as Read),
    );
  });
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'bulkhead-first-seal-'));
  // As docker-compose.yml has them: the volume's root traversable, the public key readable.
  await chmod(base, 0o755);
  auditDir = join(base, 'audit');
  await mkdir(auditDir, { mode: 0o755 });
  await chmod(auditDir, 0o755);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  publicKeyFile = join(base, 'audit-signing.pub');
  await writeFile(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  server = await startPrivateRedis({ name: 'first-seal', password: PASSWORD });
  url = `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
  redis = new Redis(parseRedisUrl(url));
  trail = new AuditTrail({ redis, prefix: PREFIX });
  registry = new TenantRegistry({ redis, prefix: PREFIX });
  sealer = new AuditSealer({
    trail,
    tenants: registry,
    dir: auditDir,
    privateKey,
    maxEntries: 100,
    readerGid: READER_GID,
    logger: pino({ level: 'silent' }),
  });
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe("a tenant's first sealed segment and the console's read of its trail", () => {
  it.each(['chown', 'chmod'])(
    'never fails the read while the sealer making the directory is held at its %s',
    async (step) => {
      const tenant = `first-${step}`;
      const { createdAt } = await registry.create({
        id: tenant,
        plan: planByName('small'),
        isolation: 'runc',
      });
      // Its first entry, as the console's suspend records it.
      await trail.append({
        tenant,
        user: 'console:olivia',
        agent: null,
        tool: 'operator/suspend',
        decision: 'permit',
        kind: 'operator',
        reason: 'first seal test',
      });
      const held = hold.arm(step);
      const sealing = sealer.seal(tenant);
      let meanwhile: Read;
      try {
        await held.reached;
        meanwhile = await consoleRead(tenant, createdAt);
      } finally {
        held.free();
        await sealing.catch(() => undefined);
      }
      // What the console shows meanwhile: the entry still in Redis, never an error.
      expect(meanwhile).toEqual({ ok: true, entries: 1 });
      expect(await sealing).toEqual({ segments: 1, entries: 1 });
      const dir = join(auditDir, tenant);
      expect({ mode: (await stat(dir)).mode & 0o777, gid: (await stat(dir)).gid }).toEqual({
        mode: 0o750,
        gid: READER_GID,
      });
      expect(await consoleRead(tenant, createdAt)).toEqual({ ok: true, entries: 1, segments: 1 });
    },
  );
});
