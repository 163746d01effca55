// A supervisor that seals the audit trail (a signing key set) must be able to write its audit
// directory and give what it writes to the readers' group (BULKHEAD_AUDIT_READER_GID): a file's
// group is changed only by root or by its owner to a group it is in. Run as another UID outside
// that group, it started and then failed every sealing pass with EPERM, only logging it, while the
// entries piled up in Redis. Now it refuses to start (exit 2, the setting and why on its first
// line) before it connects to anything, as it does for an audit directory it cannot write; in the
// group it starts. The real supervisor (`node supervisor/main.ts` as another UID, the suite running
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

/** `node supervisor/main.ts` as the supervisor's UID with `gid` its only group, sealing into `auditDir`. */
function startSupervisorProcess(gid: number, auditDir: string): Promise<Started> {
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
      BULKHEAD_AUDIT_READER_GID: String(READER_GID),
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
});
