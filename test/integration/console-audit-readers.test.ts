// The console reads the sealed audit segments as a process of its own UID through the readers'
// group the supervisor gives them (BULKHEAD_AUDIT_READER_GID; deploy/compose/console.yml gives the
// console that group). Misconfigured, every tenant's page failed with a bare 500 ("the console
// failed; see its log"), and an audit directory the console could not enter read as though nothing
// were sealed. Now a console whose groups cannot read the trails already sealed refuses to start
// (exit 2, the setting and why on its first line), and a trail sealed after its start that it cannot
// read is answered audit_unreadable, naming the directory, its group or mode, and the console's
// identity. The real console (`node console/main.ts` as another UID, the suite running as root),
// the real supervisor and development IdP, a Redis of the test's own over TCP (the shared one's
// socket is root's alone), and the real sealer writing the segments.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { callEvent } from '../support/audit-harness.ts';
import { signInByFetch } from '../support/console-alone.ts';
import { consoleClient } from '../support/console-harness.ts';
import { ROOT } from '../support/compose.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const CONSOLE_UID = 54_360;
const READER_GID = 54_361;
const OTHER_GID = 54_362;
const PASSWORD = 'console-audit-readers';

let base: string;
let publicKeyFile: string;
let privateKey: KeyObject;
let server: PrivateRedis;
let url: string;
let redis: Redis;
let stack: TestStack;
let trail: AuditTrail;
const consoles: ConsoleProcess[] = [];

interface ConsoleProcess {
  origin: string;
  /** Resolves with the first line printed once listening, or with the exit code and stderr. */
  started: Promise<{ listening: true } | { code: number | null; stderr: string }>;
  stop(): void;
}

/** `node console/main.ts` as the console's UID with `gid` its only group, on `auditDir`. */
async function startConsoleProcess(
  gid: number,
  auditDir: string,
  keyFile = publicKeyFile,
): Promise<ConsoleProcess> {
  const { port, origin, client } = await consoleClient(stack, `Bulkhead console (readers ${gid})`);
  const child = spawn(process.execPath, [join(ROOT, 'console/main.ts')], {
    cwd: ROOT,
    uid: CONSOLE_UID,
    gid,
    env: {
      BULKHEAD_REDIS_URL: url,
      BULKHEAD_NAMESPACE: stack.ns.namespace,
      BULKHEAD_CONSOLE_PORT: String(port),
      BULKHEAD_CONSOLE_URL: origin,
      BULKHEAD_CONSOLE_ISSUER: stack.idp.issuer,
      BULKHEAD_CONSOLE_CLIENT_ID: client.clientId,
      BULKHEAD_CONSOLE_CLIENT_SECRET: client.clientSecret,
      BULKHEAD_AUDIT_DIR: auditDir,
      BULKHEAD_AUDIT_PUBLIC_KEY_FILE: keyFile,
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = new Promise<{ listening: true } | { code: number | null; stderr: string }>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('console listening on')) resolve({ listening: true });
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  const running = { origin, started, stop: () => void child.kill('SIGTERM') };
  consoles.push(running);
  return running;
}

/** An audit directory as compose's volume is (0755), `tenant`'s trail sealed into it in the readers' group. */
async function sealedAuditDir(name: string, tenant: string): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  await sealInto(dir, tenant);
  return dir;
}

/**
 * A new tenant's first entry, sealed by the supervisor's sealer into `dir` (made 0700 when it is
 * not there): a tenant of its own per audit directory, as its chain starts there.
 */
async function sealInto(dir: string, tenant: string): Promise<void> {
  await stack.registry.create({ id: tenant, plan: planByName('small'), isolation: 'runc' });
  await trail.append(callEvent(tenant, 'records.search'));
  const sealer = new AuditSealer({
    trail,
    tenants: stack.registry,
    dir,
    privateKey,
    maxEntries: 100,
    readerGid: READER_GID,
    logger: pino({ level: 'silent' }),
  });
  expect(await sealer.seal(tenant)).toMatchObject({ segments: 1 });
}

/** GET `path` at the console as olivia, signed in: the status and the JSON body. */
async function get(running: ConsoleProcess, path: string): Promise<{ status: number; body: unknown }> {
  const cookie = (await signInByFetch(running.origin, 'olivia')).split(';')[0]!;
  const response = await fetch(`${running.origin}${path}`, { headers: { cookie } });
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'bulkhead-console-readers-'));
  await chmod(base, 0o755);
  const keys = generateKeyPairSync('ed25519');
  privateKey = keys.privateKey;
  publicKeyFile = join(base, 'audit-signing.pub');
  await writeFile(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  server = await startPrivateRedis({ name: 'console-readers', password: PASSWORD });
  url = `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
  stack = await startTestStack('console-readers', {
    redisUrl: url,
    users: [{ id: 'olivia', roles: ['operator'] }],
  });
  redis = new Redis(parseRedisUrl(url));
  trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
}, 120_000);

afterAll(async () => {
  for (const running of consoles) running.stop();
  redis?.disconnect();
  await stack?.close();
  await server?.stop();
  if (base) await rm(base, { recursive: true, force: true });
}, 60_000);

describe("the console and the sealed segments' readers' group", () => {
  it('shows the sealed trail when its group is the readers', async () => {
    const dir = await sealedAuditDir('readers', 'acme');
    // What a sealer killed while making a tenant's directory leaves (audit-temp-dir-crash.test.ts):
    // its own, 0700, and no tenant's: not checked.
    await mkdtemp(join(dir, '.tmp-zulu-'));
    const running = await startConsoleProcess(READER_GID, dir);
    expect(await running.started).toEqual({ listening: true });
    const { status, body } = await get(running, '/api/tenants/acme');
    expect(status).toBe(200);
    expect((body as { chain: unknown }).chain).toMatchObject({ ok: true, sealed: { segments: 1 } });
  });

  it('refuses to start in another group, naming the setting and why', async () => {
    const dir = await sealedAuditDir('other-group', 'beta');
    const running = await startConsoleProcess(OTHER_GID, dir);
    const started = await running.started;
    expect(started).toMatchObject({ code: 2 });
    const firstLine = (started as { stderr: string }).stderr.split('\n')[0];
    expect(firstLine).toBe(
      `BULKHEAD_AUDIT_DIR: ${join(dir, 'beta')} is readable by group ${READER_GID} (mode 0750), which this process, uid ${CONSOLE_UID} (groups ${OTHER_GID}), is not in: the supervisor's BULKHEAD_AUDIT_READER_GID must be one of this process's groups`,
    );
  });

  // The key the trails verify with is read at the start, as their access is checked: one its UID
  // cannot read is the same misconfiguration, refused the same way (it crashed the start, exit 1,
  // with a stack, naming neither the setting nor why in its first line).
  it('refuses to start with a public key file it cannot read, naming the setting and why', async () => {
    const keyFile = join(base, 'owner-only.pub');
    await writeFile(keyFile, await readFile(publicKeyFile), { mode: 0o600 });
    const running = await startConsoleProcess(READER_GID, join(base, 'nothing-sealed'), keyFile);
    const started = await running.started;
    expect(started).toMatchObject({ code: 2 });
    expect((started as { stderr: string }).stderr.split('\n')[0]).toBe(
      `BULKHEAD_AUDIT_PUBLIC_KEY_FILE: ${keyFile}: cannot read it: permission denied (EACCES)`,
    );
  });

  it("answers a tenant's pages audit_unreadable for a trail sealed after its start in another group", async () => {
    const dir = join(base, 'sealed-later');
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    const running = await startConsoleProcess(OTHER_GID, dir);
    expect(await running.started).toEqual({ listening: true });
    await sealInto(dir, 'cosmo');
    const why = `${join(dir, 'cosmo')} is readable by group ${READER_GID} (mode 0750), which this process, uid ${CONSOLE_UID} (groups ${OTHER_GID}), is not in: the supervisor's BULKHEAD_AUDIT_READER_GID must be one of this process's groups`;
    for (const path of ['/api/tenants/cosmo', '/api/tenants/cosmo/audit', '/api/tenants/cosmo/audit.jsonl'])
      expect({ path, ...(await get(running, path)) }).toEqual({
        path,
        status: 500,
        body: { error: 'audit_unreadable', message: why },
      });
  });

  it('answers audit_unreadable, never the entries in Redis alone, for an audit directory it cannot enter', async () => {
    // Not there when the console starts: the sealer makes it, its owner's alone (0700).
    const dir = join(base, 'made-by-the-sealer');
    const running = await startConsoleProcess(READER_GID, dir);
    expect(await running.started).toEqual({ listening: true });
    await sealInto(dir, 'delta');
    expect(await get(running, '/api/tenants/delta')).toEqual({
      status: 500,
      body: {
        error: 'audit_unreadable',
        message: `${dir} is mode 0700, its owner's (uid 0) alone, and this process is uid ${CONSOLE_UID} (groups ${READER_GID}): the sealer gives what it seals to the readers' group only with BULKHEAD_AUDIT_READER_GID set (what it sealed before, at its first pass with it), and the audit directory must let that group in (docs/audit-readers.md)`,
      },
    });
  });
});
