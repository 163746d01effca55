// Retention and offboarding against segment files changed at rest (no Redis: a stand-in says where
// its trail goes on). The sealer signs the pruning and offboarding markers that make a removal pass
// as retention or as the trail's end, so what it reads back from disk must verify first: a segment
// whose header was set back to look old, a pruning marker written by hand, an offboarding marker
// given a shorter retention, or the newest segments removed before offboarding must not end in a
// marker `bulkhead audit verify` accepts.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ExportResultCode } from '@opentelemetry/core';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSegment, FIRST_SEGMENT_PREV, segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { entryHash, GENESIS_HASH, type AuditEntry, type AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { signOffboardMarker, verifiedOffboardMarker } from '../../kernel/audit/offboard-marker.ts';
import { MAX_AUDIT_DAYS } from '../../kernel/tenant/tenant-spec.ts';
import { walkSegmentFiles } from '../../kernel/audit/segment-files.ts';
import { AuditSealer, type AuditSealerOptions } from '../../supervisor/audit/audit-sealer.ts';
import { AuditShipper } from '../../supervisor/audit/audit-shipper.ts';
import { tenantRecord } from '../support/tenant.ts';

const keys = generateKeyPairSync('ed25519');
const NOW = new Date('2026-03-01T00:00:00Z');
let root: string;

/**
 * Three segments of two entries each, the newest entry two days old, each sealed as its last entry
 * was written: nothing is past 30 days.
 */
async function sealedTrail(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  let prev = GENESIS_HASH;
  let prevDigest = FIRST_SEGMENT_PREV;
  for (let segment = 1; segment <= 3; segment++) {
    const entries: AuditEntry[] = [];
    for (let seq = segment * 2 - 1; seq <= segment * 2; seq++) {
      const body = {
        ...{ tenant: 'acme', user: 'u1', agent: 'a1', tool: 'records_get' },
        ...{ decision: 'permit' as const, reason: 'ok', seq, prev },
        at: new Date(NOW.getTime() - (8 - seq) * 86_400_000).toISOString(),
      };
      prev = entryHash(body);
      entries.push({ ...body, hash: prev });
    }
    const built = buildSegment({
      ...{ tenant: 'acme', segment, prevSegmentDigest: prevDigest, entries },
      ...{ privateKey: keys.privateKey, sealedAt: new Date(entries.at(-1)!.at) },
    });
    prevDigest = built.footer.digest;
    await writeFile(join(dir, segmentFileName(segment)), built.text);
  }
}

/**
 * The trail in Redis as offboarding finds it: every entry sealed (nothing stored), its head at
 * `unsealed - 1`.
 */
function redisTrail(unsealed: number): AuditTrail {
  const trail = {
    stored: () => Promise.resolve([]),
    trim: () => Promise.resolve(0),
    close: () => Promise.resolve(true),
    firstUnsealed: () => Promise.resolve(unsealed),
  };
  return trail as unknown as AuditTrail;
}

function sealer(trail = redisTrail(7), extra: Partial<AuditSealerOptions> = {}): AuditSealer {
  return new AuditSealer({
    trail,
    tenants: { list: () => Promise.resolve([]) },
    dir: root,
    privateKey: keys.privateKey,
    maxEntries: 10,
    logger: pino({ level: 'silent' }),
    now: () => NOW,
    ...extra,
  });
}

const verify = (dir: string) => walkSegmentFiles({ dir, publicKey: keys.publicKey, tenant: undefined });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'audit-retention-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * The trail in Redis as a router whose clock is set to 2020 wrote it: two entries stamped
 * 2020-01-01, chained from the start, until the sealer trims them.
 */
function routerClockBehind(): AuditTrail {
  let prev = GENESIS_HASH;
  let stored = [1, 2].map((seq) => {
    const body = {
      ...{ tenant: 'acme', user: 'u1', agent: 'a1', tool: 'records_get' },
      ...{ decision: 'permit' as const, reason: 'ok', seq, prev, at: '2020-01-01T00:00:00.000Z' },
    };
    prev = entryHash(body);
    return { id: `${seq}-0`, entry: { ...body, hash: prev } };
  });
  const trail = {
    stored: () => Promise.resolve(stored),
    trim: (_tenant: string, ids: string[]) => {
      stored = stored.filter((s) => !ids.includes(s.id));
      return Promise.resolve(ids.length);
    },
  };
  return trail as unknown as AuditTrail;
}

describe('retention from a router clock behind', () => {
  it('counts from the sealing: fresh entries stamped years back stay until it is past', async () => {
    const acme = tenantRecord('acme', { retention: { auditDays: 30, exportAuditOnOffboard: true } });
    const tenants = { list: () => Promise.resolve([acme]) };
    const trail = routerClockBehind();
    const at = (now: Date) => sealer(trail, { tenants, now: () => now });
    const dir = join(root, 'acme');
    // Sealed now, pruned in the same pass: its entries say 2020, its sealing says today.
    await at(NOW).runOnce();
    expect(await readdir(dir)).toEqual([segmentFileName(1)]);
    const header = JSON.parse((await readFile(join(dir, segmentFileName(1)), 'utf8')).split('\n')[0]!);
    expect(header).toMatchObject({ last_at: '2020-01-01T00:00:00.000Z', sealed_at: NOW.toISOString() });
    // 30 days after the sealing, not yet past it.
    await at(new Date(NOW.getTime() + 30 * 86_400_000)).runOnce();
    expect(await readdir(dir)).toEqual([segmentFileName(1)]);
    // Its entries and its sealing both past 30 days: pruned, as verify accepts.
    await at(new Date(NOW.getTime() + 30 * 86_400_000 + 1)).runOnce();
    expect(await readdir(dir)).toEqual(['pruned.json']);
    expect(await verify(dir)).toMatchObject({ ok: true, prunedThrough: 1 });
  });
});

describe('retention over files changed at rest', () => {
  it('prunes no segment whose header was set back to look past retention', async () => {
    const dir = join(root, 'acme');
    await sealedTrail(dir);
    // Segment 1's newest entry is 6 days old, segment 2's 4: with 5 days, only segment 1 is past.
    const file = join(dir, segmentFileName(2));
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[0] = lines[0]!.replace(/"last_at":"[^"]+"/, '"last_at":"2020-01-01T00:00:00.000Z"');
    await writeFile(file, lines.join('\n'));
    await expect(sealer().prune('acme', 5)).resolves.toBe(1);
    expect(await readdir(dir)).toEqual(['pruned.json', ...[2, 3].map(segmentFileName)]);
    expect(await verify(dir)).toMatchObject({
      ok: false,
      prunedThrough: 1,
      problem: expect.stringContaining(`${segmentFileName(2)}: header edited`),
    });
  });

  it('removes nothing a pruning marker without a valid signature claims was pruned', async () => {
    const dir = join(root, 'acme');
    await sealedTrail(dir);
    const forged = {
      ...{ type: 'pruned', format: 'bulkhead-audit-segment/1', tenant: 'acme', through_segment: 3 },
      ...{ digest: 'a'.repeat(64), last_seq: 6, last_hash: 'b'.repeat(64) },
      ...{ last_at: '2020-01-01T00:00:00.000Z', pruned_at: NOW.toISOString(), key_id: 'x', signature: '' },
    };
    await writeFile(join(dir, 'pruned.json'), JSON.stringify(forged));
    await expect(sealer().prune('acme', 30)).rejects.toMatchObject({ code: 'audit_verification_failed' });
    expect(await readdir(dir)).toEqual(['pruned.json', ...[1, 2, 3].map(segmentFileName)]);
  });

  it("keeps an offboarded trail whose marker's retention was edited", async () => {
    const dir = join(root, 'acme.offboarded-2026-02-28T00-00-00-000Z');
    await sealedTrail(dir);
    const marker = signOffboardMarker(
      {
        ...{ type: 'offboarded', format: 'bulkhead-audit-segment/1', tenant: 'acme' },
        ...{ offboarded_at: '2026-02-28T00:00:00.000Z', audit_days: 30, last_segment: 3, last_seq: 6 },
        last_hash: (await verify(dir)).head,
      },
      keys.privateKey,
    );
    await writeFile(join(dir, 'offboarded.json'), JSON.stringify({ ...marker, audit_days: 1 }));
    await sealer().runOnce();
    expect(await readdir(dir)).toEqual(['offboarded.json', ...[1, 2, 3].map(segmentFileName)]);
  });

  it("bounds an offboarding marker's retention as the record's: past it, no marker and no prune", async () => {
    const dir = join(root, 'acme.offboarded-2026-02-28T00-00-00-000Z');
    await sealedTrail(dir);
    const unsigned = {
      ...{ type: 'offboarded' as const, format: 'bulkhead-audit-segment/1' as const, tenant: 'acme' },
      ...{ offboarded_at: '2026-02-28T00:00:00.000Z', last_segment: 3, last_seq: 6 },
      last_hash: (await verify(dir)).head,
    };
    const sign = (days: number) =>
      JSON.stringify(signOffboardMarker({ ...unsigned, audit_days: days }, keys.privateKey));
    expect(verifiedOffboardMarker(sign(MAX_AUDIT_DAYS), keys.publicKey)).toMatchObject({ audit_days: 3650 });
    // Signed by the sealer's own key, yet past the bound: 200 million days is no cutoff date at all.
    expect(verifiedOffboardMarker(sign(200_000_000), keys.publicKey)).toBe('offboarding marker malformed');
    for (const days of [MAX_AUDIT_DAYS + 1, 200_000_000, 0.5])
      await expect(sealer().prune('acme', days, dir)).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringContaining(`an audit retention of ${days} days`),
      });
    expect(await readdir(dir)).toEqual([...[1, 2, 3].map(segmentFileName)]);
  });

  it('signs no offboarding marker over newest segments removed before it', async () => {
    const dir = join(root, 'acme');
    await sealedTrail(dir);
    await rm(join(dir, segmentFileName(3)));
    // Redis's trail goes on from seq 7: entries 5 and 6 were sealed into the removed segment.
    await expect(sealer(redisTrail(7)).offboard(tenantRecord('acme'))).rejects.toMatchObject({
      code: 'audit_verification_failed',
      message: expect.stringContaining('the segments end at seq 4, the trail in Redis goes on from seq 7'),
    });
    expect(await readdir(root)).toEqual(['acme']);
    // Whole, the same trail is offboarded: the marker ends at segment 3, where Redis goes on.
    await sealedTrail(dir);
    const moved = await sealer(redisTrail(7)).offboard(tenantRecord('acme'));
    expect(await verify(moved!)).toMatchObject({ ok: true, lastSegment: 3, offboardedAt: NOW.toISOString() });
  });
});

/**
 * A collector that accepts what `accepts` says of each export (every record it accepted is kept),
 * and the sealer over `root` that ships to it, then prunes acme's segments past a day.
 */
function shipping(accepts: () => boolean) {
  const received: unknown[] = [];
  const exporter: LogRecordExporter = {
    export(logs, done) {
      if (!accepts()) return done({ code: ExportResultCode.FAILED, error: new Error('refused') });
      received.push(...logs.map((log) => log.body));
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
  const logged: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  const shipper = new AuditShipper({
    dir: root,
    privateKey: keys.privateKey,
    exporter,
    logger,
    now: () => NOW,
  });
  const acme = tenantRecord('acme', { retention: { auditDays: 1, exportAuditOnOffboard: true } });
  const s = sealer(redisTrail(7), { shipper, logger, tenants: { list: () => Promise.resolve([acme]) } });
  return { received, logged, sealer: s };
}

describe('retention by the shipped record', () => {
  const segments = [1, 2, 3].map(segmentFileName);
  const record = (dir: string) => readFile(join(dir, 'shipped.json'), 'utf8');
  /** Where the trail ends (segment 3), as a shipper would record it had the collector accepted all. */
  async function newestShipped(dir: string) {
    await sealedTrail(dir);
    const footer = (await readFile(join(dir, segmentFileName(3)), 'utf8')).trim().split('\n').at(-1)!;
    const { digest, last_hash } = JSON.parse(footer) as { digest: string; last_hash: string };
    return { segment: 3, digest, last_seq: 6, last_hash };
  }

  it('prunes only what the collector accepted, by the record the shipper signed', async () => {
    const dir = join(root, 'acme');
    await sealedTrail(dir);
    let exports = 0;
    const run = shipping(() => ++exports === 1);
    await run.sealer.runOnce();
    expect(run.received).toHaveLength(2);
    expect(await readdir(dir)).toEqual(['pruned.json', ...segments.slice(1), 'shipped.json']);
    expect(JSON.parse(await record(dir))).toMatchObject({ type: 'shipped', tenant: 'acme', segment: 1 });
    expect(await verify(dir)).toMatchObject({ ok: true, prunedThrough: 1 });
  });

  it('prunes nothing by a signed record raised by hand, and says why', async () => {
    const dir = join(root, 'acme');
    const newest = await newestShipped(dir);
    let exports = 0;
    await shipping(() => ++exports === 1).sealer.runOnce();
    const raised = { ...JSON.parse(await record(dir)), ...newest };
    await writeFile(join(dir, 'shipped.json'), JSON.stringify(raised));
    const run = shipping(() => true);
    await run.sealer.runOnce();
    expect(run.received).toEqual([]);
    expect(await readdir(dir)).toEqual(['pruned.json', ...segments.slice(1), 'shipped.json']);
    expect(run.logged.join('')).toContain('shipped record signature does not verify (edited)');
    await expect(run.sealer.prune('acme', 1)).rejects.toMatchObject({
      code: 'audit_verification_failed',
      message: expect.stringMatching(/^tenant acme: .*shipped\.json does not verify .*: no segment pruned$/),
    });
  });

  it('trusts no record in the unsigned form: what it names is shipped again before it is pruned', async () => {
    const dir = join(root, 'acme');
    // The form shippers wrote before, raised to the newest segment: the collector has none of it.
    await writeFile(join(dir, 'shipped.json'), JSON.stringify(await newestShipped(dir)));
    const down = shipping(() => false);
    await down.sealer.runOnce();
    expect(await readdir(dir)).toEqual([...segments, 'shipped.json']);
    expect(down.logged.join('')).toContain('tenant acme: ');
    expect(down.logged.join('')).toContain('shipped record is not signed');
    // The collector back: all six records reach it, then retention removes their segments.
    const up = shipping(() => true);
    await up.sealer.runOnce();
    expect(up.received).toHaveLength(6);
    expect(await readdir(dir)).toEqual(['pruned.json', 'shipped.json']);
  });
});
