// A supervisor that seals the audit trail (a signing key set) must be able to write its audit
// directory and give what it writes to the readers' group (BULKHEAD_AUDIT_READER_GID): a file's
// group is changed only by root or by its owner to a group it is in. Run as another UID outside
// that group, it started and then failed every sealing pass with EPERM, only logging it, while the
// entries piled up in Redis. Now it refuses to start (exit 2, the setting and why on its first
// line) before it connects to anything, as it does for an audit directory it cannot write, or a
// tenant's trail directory in it that it could not keep as a pass does; in the group it starts. The real supervisor (`node supervisor/main.ts` as another UID, the suite running
// as root) against a listener standing in for its Redis, which tells whether it got that far.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/compose.ts';

const SUPERVISOR_UID = 54_380;
const READER_GID = 54_381;
const OTHER_GID = 54_382;

let base: string;
let keys: { signing: string; public: string };
let redis: Server;
/** Connections the stand-in for Redis was asked for. */
let connections = 0;
const children: (() => void)[] = [];

interface Started {
  /** How it ended, or `reached-redis` once it connected to its Redis (then it is stopped). */
  outcome: { code: number | null; stderr: string } | 'reached-redis';
}

/**
 * `node supervisor/main.ts` as the supervisor's UID with `gid` its only group, sealing into
 * `auditDir`, with READER_GID its readers' group unless `readerGid` says another or none (null).
 */
function startSupervisorProcess(
  gid: number,
  auditDir: string,
  readerGid: number | null = READER_GID,
): Promise<Started> {
  const before = connections;
  const child = spawn(process.execPath, [join(ROOT, 'supervisor/main.ts')], {
    cwd: ROOT,
    uid: SUPERVISOR_UID,
    gid,
    env: {
      BULKHEAD_REDIS_URL: `redis://127.0.0.1:${(redis.address() as AddressInfo).port}`,
      BULKHEAD_NAMESPACE: `t-seal-access-${process.pid}`,
      BULKHEAD_RUN_DIR: join(base, 'run'),
      BULKHEAD_ROUTER_PUBLIC_KEY_FILE: keys.public,
      BULKHEAD_AUDIT_SIGNING_KEY_FILE: keys.signing,
      BULKHEAD_AUDIT_DIR: auditDir,
      ...(readerGid === null ? {} : { BULKHEAD_AUDIT_READER_GID: String(readerGid) }),
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (connections === before) return;
      clearInterval(poll);
      child.kill('SIGKILL');
      resolve({ outcome: 'reached-redis' });
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ outcome: connections > before ? 'reached-redis' : { code, stderr } });
    });
  });
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'bulkhead-seal-access-'));
  await chmod(base, 0o755);
  const pair = generateKeyPairSync('ed25519');
  keys = { signing: join(base, 'audit-signing.key'), public: join(base, 'router.pub') };
  await writeFile(keys.signing, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
  await writeFile(keys.public, pair.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  redis = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => redis.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const stop of children) stop();
  redis?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

/** An audit directory of the supervisor's UID (what compose's volume would be to it). */
async function ownAuditDir(name: string): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { mode: 0o755 });
  await chown(dir, SUPERVISOR_UID, 0);
  return dir;
}

describe("a supervisor's access to the audit directory, checked at its start", () => {
  it("refuses to start outside the readers' group, naming the setting and why, before Redis", async () => {
    const dir = await ownAuditDir('other-group');
    const { outcome } = await startSupervisorProcess(OTHER_GID, dir);
    expect(outcome).toMatchObject({ code: 2 });
    const [firstLine] = (outcome as { stderr: string }).stderr.split('\n');
    expect(firstLine).toBe(
      `BULKHEAD_AUDIT_READER_GID ${READER_GID}: this process, uid ${SUPERVISOR_UID} (groups ${OTHER_GID}), cannot give the segments it seals in ${dir} to group ${READER_GID} (EPERM): run the supervisor with that group among its groups, or as root`,
    );
    // Its scratch file is gone with it.
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to start on an audit directory it cannot write, naming the setting and why', async () => {
    const dir = join(base, 'roots');
    await mkdir(dir, { mode: 0o755 });
    const { outcome } = await startSupervisorProcess(READER_GID, dir);
    expect(outcome).toMatchObject({ code: 2 });
    const [firstLine] = (outcome as { stderr: string }).stderr.split('\n');
    expect(firstLine).toMatch(
      new RegExp(
        `^BULKHEAD_AUDIT_DIR ${dir}: cannot write ${dir}/\\.tmp-\\d+-[0-9a-f]{12}: permission denied \\(EACCES\\)$`,
      ),
    );
  });

  it("starts in the readers' group, the directory made as the sealer makes it and left empty", async () => {
    const parent = await ownAuditDir('in-group');
    const dir = join(parent, 'audit');
    const { outcome } = await startSupervisorProcess(READER_GID, dir);
    expect(outcome).toBe('reached-redis');
    const made = await stat(dir);
    expect({ uid: made.uid, mode: made.mode & 0o777 }).toEqual({ uid: SUPERVISOR_UID, mode: 0o700 });
    expect(await readdir(dir)).toEqual([]);
  });

  /** A trail directory `name` in `dir`, made by the test (root) and given to `uid`, `gid`, `mode`. */
  async function trailDir(dir: string, name: string, owner: { uid: number; gid: number; mode: number }) {
    const path = join(dir, name);
    await mkdir(path);
    await chown(path, owner.uid, owner.gid);
    await chmod(path, owner.mode);
    return path;
  }

  it("refuses to start on a tenant's trail directory it could not give the readers' group, naming it", async () => {
    const dir = await ownAuditDir('foreign-trail');
    await trailDir(dir, 'acme', { uid: SUPERVISOR_UID, gid: READER_GID, mode: 0o750 });
    // Left by a supervisor once run as root: in the group already, but not this one's to chmod.
    const path = await trailDir(dir, 'bravo', { uid: 0, gid: READER_GID, mode: 0o770 });
    const { outcome } = await startSupervisorProcess(READER_GID, dir);
    expect(outcome).toMatchObject({ code: 2 });
    const [firstLine] = (outcome as { stderr: string }).stderr.split('\n');
    expect(firstLine).toBe(
      `BULKHEAD_AUDIT_DIR ${dir}: ${path} (owner uid 0, group ${READER_GID}, mode 0770) is not this process's: this process, uid ${SUPERVISOR_UID} (groups ${READER_GID}), cannot give it the readers' group ${READER_GID} and mode 0750 as each sealing pass does (chown it to the supervisor's uid)`,
    );
  });

  it("refuses to start, without a readers' group, on an offboarded trail directory it cannot write", async () => {
    const dir = await ownAuditDir('unwritable-trail');
    const name = 'acme.offboarded-2026-01-01T00-00-00-000Z';
    const path = await trailDir(dir, name, { uid: 0, gid: 0, mode: 0o755 });
    const { outcome } = await startSupervisorProcess(OTHER_GID, dir, null);
    expect(outcome).toMatchObject({ code: 2 });
    const [firstLine] = (outcome as { stderr: string }).stderr.split('\n');
    expect(firstLine).toBe(
      `BULKHEAD_AUDIT_DIR ${dir}: ${path} (owner uid 0, group 0, mode 0755) cannot be written by this process, uid ${SUPERVISOR_UID} (groups ${OTHER_GID}): each sealing pass writes the trail's segments and markers there (chown it to the supervisor's uid)`,
    );
  });

  it("starts over trail directories of its own in another group, and over names that are no trail's", async () => {
    const dir = await ownAuditDir('own-trails');
    await trailDir(dir, 'acme', { uid: SUPERVISOR_UID, gid: OTHER_GID, mode: 0o700 });
    // A sealer's temporary directory and a file are no trail: not the start's to judge.
    await trailDir(dir, '.tmp-acme-Ab12Cd', { uid: 0, gid: 0, mode: 0o700 });
    await writeFile(join(dir, 'README'), 'not a trail');
    expect((await startSupervisorProcess(READER_GID, dir)).outcome).toBe('reached-redis');
  });
});
