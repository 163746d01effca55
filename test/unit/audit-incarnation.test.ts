// Which tenant of an id a trail on disk is of. The same id onboarded again after an offboarding is
// another tenant, whose segments are signed by the same key and chain from seq 1 like the earlier
// one's: a directory swapped for the earlier tenant's segments verified as the new tenant's trail.
// Segments name the record's createdAt in their signed header, and verify (given it: `--created-at`,
// offline), retention and the sealer hold them to it; segments sealed before they named it are
// counted, not refused.
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSegment, FIRST_SEGMENT_PREV, segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { entryHash, GENESIS_HASH, type AuditEntry, type AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { verifySegments } from '../../tenants/control-plane/audit-segments.ts';
import { tenantRecord } from '../support/tenant.ts';

const keys = generateKeyPairSync('ed25519');
const NOW = new Date('2026-03-01T00:00:00Z');
const EARLIER = '2025-06-01T00:00:00.000Z';
const LATER = '2026-01-01T00:00:00.000Z';
let root: string;

/**
 * `count` segments of two entries each in `dir`, the newest entry a day old; segment n names the
 * tenant's creation `createdAt(n)` (undefined: a segment sealed before segments named it).
 */
async function trail(
  dir: string,
  count: number,
  createdAt: (n: number) => string | undefined,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  let prev = GENESIS_HASH;
  let prevSegmentDigest = FIRST_SEGMENT_PREV;
  for (let segment = 1; segment <= count; segment++) {
    const entries: AuditEntry[] = [];
    for (let seq = segment * 2 - 1; seq <= segment * 2; seq++) {
      const body = {
        ...{ tenant: 'acme', user: 'u1', agent: 'a1', tool: 'records_get' },
        ...{ decision: 'permit' as const, reason: 'ok', seq, prev },
        at: new Date(NOW.getTime() - (count * 2 + 2 - seq) * 86_400_000).toISOString(),
      };
      prev = entryHash(body);
      entries.push({ ...body, hash: prev });
    }
    const built = buildSegment({
      ...{ tenant: 'acme', tenantCreatedAt: createdAt(segment), segment, prevSegmentDigest, entries },
      ...{ privateKey: keys.privateKey, sealedAt: NOW },
    });
    prevSegmentDigest = built.footer.digest;
    await writeFile(join(dir, segmentFileName(segment)), built.text);
  }
}

const verify = (createdAt?: string) =>
  verifySegments({ root, tenant: 'acme' }, keys.publicKey, createdAt === undefined ? {} : { createdAt });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'audit-incarnation-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("a tenant's segments swapped for an earlier tenant's of the same id", () => {
  it('fail verify given the tenant record, and name the tenant they are of without it', async () => {
    const earlier = join(root, 'acme.offboarded-2025-12-01T00-00-00-000Z');
    await trail(earlier, 3, () => EARLIER);
    await trail(join(root, 'acme'), 2, () => LATER);
    expect(await verify(LATER)).toMatchObject({ ok: true, segments: 2, createdAt: LATER });
    // The whole directory replaced by the earlier tenant's segments (its marker left behind).
    await rm(join(root, 'acme'), { recursive: true });
    await cp(earlier, join(root, 'acme'), { recursive: true });
    expect(await verify(LATER)).toMatchObject({
      ok: false,
      problem: `${segmentFileName(1)}: of the tenant created ${EARLIER}, not of the one created ${LATER} (another tenant of the same id, offboarded and onboarded again)`,
    });
    // Offline without the record: intact, and it says which tenant of the id the trail is of.
    expect(await verify()).toMatchObject({ ok: true, segments: 3, createdAt: EARLIER });
  });

  it('are neither continued, pruned nor offboarded by the sealer of the tenant registered now', async () => {
    await trail(join(root, 'acme'), 3, () => EARLIER);
    const logged: string[] = [];
    const acme = tenantRecord('acme', {
      createdAt: LATER,
      retention: { auditDays: 1, exportAuditOnOffboard: true },
    });
    const nothingInRedis = {
      ...{ stored: () => Promise.resolve([]), trim: () => Promise.resolve(0) },
      firstUnsealed: () => Promise.resolve(7),
    };
    const sealer = new AuditSealer({
      trail: nothingInRedis as unknown as AuditTrail,
      tenants: { list: () => Promise.resolve([acme]) },
      dir: root,
      privateKey: keys.privateKey,
      maxEntries: 10,
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(line) }),
      now: () => NOW,
    });
    await sealer.runOnce();
    expect(await readdir(join(root, 'acme'))).toEqual([1, 2, 3].map(segmentFileName));
    expect(logged.join('')).toContain(
      'audit segments on disk are of another tenant of the same id: not sealed',
    );
    expect(logged.join('')).toContain(`not of the one created ${LATER}`);
    // Nor signed as its trail's end by its offboarding.
    await expect(sealer.offboard(acme)).rejects.toMatchObject({
      code: 'audit_verification_failed',
      message: expect.stringContaining(
        `are of the tenant created ${EARLIER}, not of the one created ${LATER}`,
      ),
    });
    expect(await readdir(root)).toEqual(['acme']);
  });
});

describe('segments sealed before they named their tenant', () => {
  it('verify as before, counted as not bound to a tenant of the id', async () => {
    await trail(join(root, 'acme'), 3, () => undefined);
    expect(await verify(LATER)).toMatchObject({ ok: true, segments: 3, unbound: 3 });
    expect((await verify(LATER)).createdAt).toBeUndefined();
  });

  it('may be followed by segments that name it, never the other way round', async () => {
    await trail(join(root, 'acme'), 3, (n) => (n === 1 ? undefined : LATER));
    expect(await verify(LATER)).toMatchObject({ ok: true, unbound: 1, createdAt: LATER });
    await rm(join(root, 'acme'), { recursive: true });
    await trail(join(root, 'acme'), 3, (n) => (n === 3 ? undefined : LATER));
    expect(await verify()).toMatchObject({
      ok: false,
      problem: `${segmentFileName(3)}: names no tenant creation, after segments of the tenant created ${LATER}`,
    });
  });
});
