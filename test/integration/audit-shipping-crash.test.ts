// A supervisor process killed (SIGKILL) while the SIEM's collector holds a segment's records and
// before the supervisor heard so, i.e. before it wrote its shipping cursor: the next supervisor on
// the same audit directory ships that segment again, every entry with the same seq and hash (so the
// SIEM can drop the copy), and nothing is lost. Real supervisor processes (`supervisor/main.ts`,
// configured from the environment as deployed), the real Redis and files, and the OTLP/HTTP receiver,
// which stops the first supervisor itself once the records have arrived and before it answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { readShipCursor, SHIP_CURSOR_FILE } from '../../kernel/audit/segment-files.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';
import { REDIS_URL, RUNTIME_IMAGE } from '../support/namespace.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';

const TENANT = 'crashed';
const ROOT = join(import.meta.dirname, '../..');
let audit: AuditHarness;
let receiver: OtlpReceiver;
const running: ChildProcess[] = [];

/** A supervisor process of the harness's installation that seals every second and ships to the receiver. */
async function supervisorProcess(): Promise<ChildProcess> {
  const keys = await ensureCallKeys(join(audit.ns.runDir, 'call-keys'));
  const child = spawn(process.execPath, ['supervisor/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      BULKHEAD_NAMESPACE: audit.ns.namespace,
      BULKHEAD_REDIS_URL: REDIS_URL,
      BULKHEAD_RUN_DIR: join(audit.ns.runDir, 'run'),
      BULKHEAD_RUNTIME_IMAGE: RUNTIME_IMAGE,
      BULKHEAD_ROUTER_PUBLIC_KEY_FILE: keys.publicKeyFile,
      BULKHEAD_EGRESS_PUBLIC_KEY_FILE: keys.egress.publicKeyFile,
      BULKHEAD_ROUTER_GID: '0',
      BULKHEAD_AUDIT_DIR: audit.auditDir,
      BULKHEAD_AUDIT_SIGNING_KEY_FILE: audit.keys.signingKeyFile,
      BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT: receiver.logsUrl,
      BULKHEAD_AUDIT_SEAL_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  running.push(child);
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');

const shipped = () => receiver.logs.filter((log) => log.attributes['bulkhead.tenant'] === TENANT);
const dir = () => join(audit.auditDir, TENANT);

beforeAll(async () => {
  audit = await auditHarness('audit-crash', [TENANT]);
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  for (const child of running) {
    child.kill('SIGKILL');
    await exited(child);
  }
  await receiver?.close();
  await audit?.close();
});

describe('a supervisor killed between the collector taking a segment and its cursor', () => {
  it('leaves the segment to the next supervisor, which ships it again whole, and loses nothing', async () => {
    for (let n = 1; n <= 3; n++) await audit.trail.append(callEvent(TENANT, `tool-${n}`, { latency_ms: n }));
    const first = await supervisorProcess();
    let killed = false;
    receiver.onLogs = async () => {
      killed = first.kill('SIGKILL');
      await exited(first);
    };
    // Bounded: the first export comes within a seal interval or two of the start.
    await vi.waitUntil(() => killed && first.signalCode === 'SIGKILL', { timeout: 20_000, interval: 100 });
    receiver.onLogs = undefined;
    // The collector holds the records; the supervisor never heard so: the segment is sealed (and
    // gone from Redis), its cursor not written.
    expect(shipped().map((log) => log.attributes['bulkhead.audit.seq'])).toEqual([1, 2, 3]);
    expect(existsSync(join(dir(), segmentFileName(1)))).toBe(true);
    expect(existsSync(join(dir(), SHIP_CURSOR_FILE))).toBe(false);
    expect(await audit.trail.entries(TENANT)).toEqual([]);

    const second = await supervisorProcess();
    const cursor = await vi.waitUntil(
      () => readShipCursor(dir(), createPublicKey(audit.privateKey), TENANT),
      {
        timeout: 20_000,
        interval: 100,
      },
    );
    expect(cursor).toMatchObject({ cursor: { segment: 1 } });
    second.kill('SIGTERM');
    await exited(second);
    const logs = shipped();
    expect(logs.map((log) => log.attributes['bulkhead.audit.seq'])).toEqual([1, 2, 3, 1, 2, 3]);
    for (let i = 0; i < 3; i++) {
      expect(logs[i + 3]!.attributes['bulkhead.audit.hash']).toBe(logs[i]!.attributes['bulkhead.audit.hash']);
      expect(logs[i + 3]!.body).toEqual(logs[i]!.body);
    }
  });
});
