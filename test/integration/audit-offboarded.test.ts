// An offboarded tenant's sealed audit trail, against the real Redis and real files: offboarding (the
// supervisor's purge job, while the record exists) seals what Redis holds, signs a marker with the
// record's retention, ends the Redis trail and moves the directory aside; later passes prune it by
// that retention, as a live tenant's, no further than what the SIEM's collector accepted, and remove
// it once nothing is left within retention. `bulkhead audit verify` checks the directory, its marker
// included, all along. The same id onboarded again seals into a directory of its own from seq 1.
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSegment, parseSegment, segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { readSegmentText } from '../../kernel/audit/segment-files.ts';
import { auditHeadKey, auditStreamKey } from '../../kernel/redis/keys.ts';
import { planByName, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { auditHarness, callEvent, shipperTo, type AuditHarness } from '../support/audit-harness.ts';
import { runCli } from '../support/cli.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';

const DAY = 86_400_000;
let audit: AuditHarness;
let sealer: AuditSealer;

/** `bulkhead audit <args>`, offline (a Redis URL nobody listens on). */
const auditCli = (h: AuditHarness, ...args: string[]) =>
  runCli(
    {
      namespace: h.ns.namespace,
      devDir: join(h.ns.runDir, 'dev'),
      extra: {
        BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
        BULKHEAD_AUDIT_DIR: h.auditDir,
        BULKHEAD_AUDIT_PUBLIC_KEY_FILE: h.keys.publicKeyFile,
      },
    },
    ['audit', ...args],
  );
const verify = (h: AuditHarness, ...args: string[]) => auditCli(h, 'verify', ...args);
/** `bulkhead audit export`, to stdout: the tools of the records it wrote. */
const exported = async (h: AuditHarness, ...args: string[]) => {
  const run = await auditCli(h, 'export', ...args);
  const lines = run.stdout.split('\n').filter(Boolean);
  return { ...run, tools: lines.map((line) => (JSON.parse(line) as { tool: string }).tool) };
};

/** Appends `n` calls of `tenant` and seals them (segments of two), a few ms after what came before. */
async function sealCalls(h: AuditHarness, s: AuditSealer, tenant: string, n: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  for (let i = 0; i < n; i++) await h.trail.append(callEvent(tenant, 'records_create'));
  await s.seal(tenant);
}

/** When segment `n`'s retention starts: the later of its newest entry and its sealing. */
const retainedFrom = async (dir: string, n: number) => {
  const { header } = parseSegment(await readSegmentText(dir, segmentFileName(n)));
  return Math.max(Date.parse(header.last_at), Date.parse(header.sealed_at));
};

async function record(h: AuditHarness, id: string, auditDays: number): Promise<TenantRecord> {
  const tenant = (await h.registry.get(id))!;
  return { ...tenant, retention: { ...tenant.retention, auditDays } };
}

beforeAll(async () => {
  audit = await auditHarness('audit-offboard', ['gone', 'again', 'cut', 'twice']);
  sealer = audit.sealer({ maxEntries: 2 });
});

afterAll(async () => {
  await audit?.close();
});

describe('an offboarded tenant', () => {
  it('keeps its retention: pruned by it on later passes, its directory removed once all is past it', async () => {
    const { auditDir, redis, ns } = audit;
    await sealCalls(audit, sealer, 'gone', 2);
    await sealCalls(audit, sealer, 'gone', 2);
    // Still in Redis at offboarding: sealed by it, into segment 3.
    await audit.trail.append(callEvent('gone', 'records_delete'));
    const moved = (await sealer.offboard(await record(audit, 'gone', 30)))!;
    await audit.registry.delete('gone');
    expect(basename(moved)).toMatch(/^gone\.offboarded-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    expect(existsSync(join(auditDir, 'gone'))).toBe(false);
    expect((await readdir(moved)).sort()).toEqual(
      ['offboarded.json', segmentFileName(1), segmentFileName(2), segmentFileName(3)].sort(),
    );
    // The Redis trail ended with it: nothing left there to expire or to continue.
    const prefix = ns.installation.registryPrefix;
    expect(await redis.exists(auditStreamKey(prefix, 'gone'), auditHeadKey(prefix, 'gone'))).toBe(0);
    const marked = await verify(audit, '--dir', moved);
    expect(marked.code, marked.stderr).toBe(0);
    expect(marked.stdout).toMatch(
      /intact: segments 1-3, 5 entries; last seq 5, .*; offboarded \S+Z.*; tenant gone created \S+Z$/m,
    );

    // 29 days on: within its 30 days, nothing goes.
    audit.clock.at = new Date(Date.now() + 29 * DAY);
    await sealer.runOnce();
    expect(await readdir(moved)).toContain(segmentFileName(1));
    // Just past segment 1's retention (its sealing, the entries of 2 came after): 1 alone goes,
    // recorded by the marker.
    expect(await retainedFrom(moved, 2)).toBeGreaterThan(await retainedFrom(moved, 1));
    audit.clock.at = new Date((await retainedFrom(moved, 1)) + 30 * DAY + 1);
    await sealer.runOnce();
    expect((await readdir(moved)).sort()).toEqual(
      ['offboarded.json', 'pruned.json', segmentFileName(2), segmentFileName(3)].sort(),
    );
    const partial = await verify(audit, '--dir', moved);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout).toMatch(
      /intact: segments 2-3, 3 entries, segments 1-1 pruned by retention; last seq 5/,
    );

    // The newest segment removed by hand is seen in the files alone: the marker says where it ended.
    const copy = join(ns.runDir, 'tamper', 'gone-newest-removed');
    await cp(moved, copy, { recursive: true });
    await unlink(join(copy, segmentFileName(3)));
    const removed = await verify(audit, '--dir', copy);
    expect(removed.code).toBe(5);
    expect(removed.stderr).toContain('the trail ends at segment 2, the offboarding marker at segment 3');

    // All past its retention: the directory goes, and nothing of the tenant's trail is left.
    audit.clock.at = new Date(Date.now() + 31 * DAY);
    await sealer.runOnce();
    expect(existsSync(moved)).toBe(false);
    expect((await readdir(auditDir)).filter((name) => name.startsWith('gone'))).toEqual([]);
    audit.clock.at = undefined;
  });

  it('is not offboarded while its newest sealed segment is missing: the marker would sign the cut', async () => {
    await sealCalls(audit, sealer, 'cut', 2);
    await sealCalls(audit, sealer, 'cut', 2);
    const dir = join(audit.auditDir, 'cut');
    await unlink(join(dir, segmentFileName(2)));
    // Appended since (a router still serving the tenant): the chain in Redis goes on from seq 5.
    await audit.trail.append(callEvent('cut', 'records_delete'));
    await expect(sealer.offboard(await record(audit, 'cut', 30))).rejects.toMatchObject({
      code: 'audit_verification_failed',
      message: expect.stringContaining('the segments end at seq 2, the trail in Redis goes on from seq 5'),
    });
    expect(await readdir(dir)).toEqual([segmentFileName(1)]);
  });

  it('onboarded again with the same id, seals into a directory of its own from seq 1', async () => {
    const { auditDir } = audit;
    await sealCalls(audit, sealer, 'again', 3);
    const old = (await sealer.offboard(await record(audit, 'again', 30)))!;
    await audit.registry.delete('again');
    await audit.registry.create({ id: 'again', plan: planByName('small'), isolation: 'runc' });
    await audit.trail.append(callEvent('again', 'whoami'));
    await sealer.runOnce();
    // The new tenant's trail starts a chain of its own, in a directory without the old marker.
    expect(await readdir(join(auditDir, 'again'))).toEqual([segmentFileName(1)]);
    const fresh = parseSegment(await readSegmentText(join(auditDir, 'again'), segmentFileName(1)));
    expect(fresh.entries.map((e) => [e.seq, e.tool])).toEqual([[1, 'whoami']]);
    // The old one's is left as offboarding left it, both verify.
    expect((await readdir(old)).sort()).toEqual(
      ['offboarded.json', segmentFileName(1), segmentFileName(2)].sort(),
    );
    const live = await verify(audit, 'again');
    expect(live.code, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/intact: segments 1-1, 1 entries; last seq 1, /);
    expect(live.stdout).not.toContain('offboarded');
    const gone = await verify(audit, '--dir', old);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toMatch(/intact: segments 1-2, 3 entries; last seq 3, .*; offboarded /);
    // The live directory swapped for the earlier tenant's segments: the same key signed them, and
    // they chain from seq 1 as well, but they name the earlier tenant's creation, not the record's.
    const { createdAt } = (await audit.registry.get('again'))!;
    expect((await verify(audit, 'again', '--created-at', createdAt)).code).toBe(0);
    await rm(join(auditDir, 'again'), { recursive: true });
    await cp(old, join(auditDir, 'again'), { recursive: true });
    await rm(join(auditDir, 'again', 'offboarded.json'));
    const swapped = await verify(audit, 'again', '--created-at', createdAt);
    expect(swapped.code).toBe(5);
    expect(swapped.stderr).toContain(`not of the one created ${createdAt} (another tenant of the same id`);
  });
});

describe('an export of an id onboarded again', () => {
  it("exports with --created-at one tenant's trail of the id, and refuses the other's", async () => {
    await sealCalls(audit, sealer, 'twice', 3);
    const earlier = await record(audit, 'twice', 30);
    const old = (await sealer.offboard(earlier))!;
    await audit.registry.delete('twice');
    await audit.registry.create({ id: 'twice', plan: planByName('small'), isolation: 'runc' });
    await audit.trail.append(callEvent('twice', 'whoami'));
    await sealer.runOnce();
    const { createdAt } = (await audit.registry.get('twice'))!;

    const live = await exported(audit, 'twice', '--created-at', createdAt);
    expect(live.code, live.stderr).toBe(0);
    expect(live.tools).toEqual(['whoami']);
    const gone = await exported(audit, '--dir', old, '--created-at', earlier.createdAt);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.tools).toEqual(['records_create', 'records_create', 'records_create']);
    // The earlier tenant's trail, asked for as the later one's: refused, nothing written.
    const other = await exported(audit, '--dir', old, '--created-at', createdAt);
    expect(other.code).toBe(5);
    expect(other.stderr).toContain(`not of the one created ${createdAt} (another tenant of the same id`);
    expect(other.stdout).toBe('');
    // A segment sealed before segments named their tenant's creation is exported, and counted.
    const sealed = parseSegment(await readSegmentText(old, segmentFileName(1)));
    const unbound = join(audit.ns.runDir, 'unbound', 'twice');
    await mkdir(unbound, { recursive: true });
    const { header, entries } = sealed;
    const rebuilt = buildSegment({
      ...{ tenant: 'twice', segment: 1, prevSegmentDigest: header.prev_segment_digest, entries },
      ...{ privateKey: audit.privateKey, sealedAt: new Date(header.sealed_at) },
    });
    await writeFile(join(unbound, segmentFileName(1)), rebuilt.text);
    const older = await exported(audit, '--dir', unbound, '--created-at', createdAt);
    expect(older.code, older.stderr).toBe(0);
    expect(older.tools).toEqual(['records_create', 'records_create']);
    expect(older.stderr).toContain('exported 2 records; 1 segments name no tenant creation');
    // Given as verify takes it, and refused as verify refuses it.
    const [badExport, badVerify] = await Promise.all(
      ['export', 'verify'].map((sub) => auditCli(audit, sub, 'twice', '--created-at', 'yesterday')),
    );
    expect(badExport?.code).toBe(2);
    expect(badExport?.stderr).toContain('--created-at: not a date/time: yesterday');
    // The same refusal, each followed by its own subcommand's usage.
    const refusal = (run?: { code: number; stderr: string }) => [run?.code, run?.stderr.split('\n')[0]];
    expect(refusal(badExport)).toEqual(refusal(badVerify));
    expect(badExport?.stderr).toContain('usage: bulkhead audit export ');
    expect(badVerify?.stderr).toContain('usage: bulkhead audit verify ');
  });
});

describe('an offboarded tenant, with shipping', () => {
  let shipping: AuditHarness;
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    shipping = await auditHarness('audit-offboard-ship', ['kept']);
    receiver = await startOtlpReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await shipping?.close();
  });

  it('keeps a segment the collector has not accepted past its retention, until it accepts it', async () => {
    const shipper = shipperTo(shipping, receiver.logsUrl);
    const s = shipping.sealer({ maxEntries: 2, shipper });
    for (let i = 0; i < 2; i++) await shipping.trail.append(callEvent('kept', 'records_create'));
    await s.runOnce();
    receiver.refuse = 400;
    await shipping.trail.append(callEvent('kept', 'records_delete'));
    const moved = (await s.offboard(await record(shipping, 'kept', 30)))!;
    await shipping.registry.delete('kept');
    // A year on, all of it is past retention: only segment 1, shipped, goes.
    shipping.clock.at = new Date(Date.now() + 365 * DAY);
    await s.runOnce();
    expect((await readdir(moved)).filter((f) => f.startsWith('segment-'))).toEqual([segmentFileName(2)]);
    // The collector accepts again: segment 2 reaches it from the offboarded directory, then goes.
    receiver.refuse = undefined;
    await s.runOnce();
    const seqs = receiver.logs
      .filter((log) => log.attributes['bulkhead.tenant'] === 'kept')
      .map((log) => log.attributes['bulkhead.audit.seq']);
    expect(seqs).toEqual([1, 2, 3]);
    expect(existsSync(moved)).toBe(false);
    shipping.clock.at = undefined;
  });
});
