// A tenant's whole audit trail as the console reads it (tenants/control-plane/audit-history.ts): the
// sealed segments, verified with the public key, then the entries still in Redis, one chain check
// over both. Real Redis, real files, the supervisor's sealer. A trail whose segments were edited, or
// whose Redis part does not continue them, reads as broken and names where.
import { createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { VerifiedSegments } from '../../kernel/audit/segment-chain.ts';
import { auditHeadKey, auditStreamKey } from '../../kernel/redis/keys.ts';
import type { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { readTrail, type SealedSource } from '../../tenants/control-plane/audit-history.ts';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';

let audit: AuditHarness;
let trail: AuditTrail;
let sealer: AuditSealer;
let sealed: SealedSource;

async function appendAll(tenant: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await trail.append(callEvent(tenant, `t${i}`));
}

beforeAll(async () => {
  audit = await auditHarness('audit-history', [
    'whole',
    'edited',
    'forked',
    'pruned',
    'offboarded',
    'meanwhile',
    'lost',
  ]);
  trail = audit.trail;
  sealer = audit.sealer({ maxEntries: 2 });
  sealed = { root: audit.auditDir, publicKey: createPublicKey(audit.privateKey) };
});

afterAll(async () => {
  await audit?.close();
});

describe('the whole audit trail', () => {
  it('is the sealed segments, then what Redis still holds, checked as one chain', async () => {
    await appendAll('whole', 5);
    await sealer.seal('whole');
    await appendAll('whole', 2);
    const view = await readTrail({ trail, tenant: 'whole', sealed });
    expect(view.entries.map((e) => [e.seq, e.segment])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 3],
      [6, undefined],
      [7, undefined],
    ]);
    expect(view.chain).toMatchObject({ ok: true, entries: 7, sealed: { segments: 3, entries: 5 } });
    // Without the key it is what Redis holds, as before sealing.
    const redisOnly = await readTrail({ trail, tenant: 'whole' });
    expect(redisOnly.entries.map((e) => e.seq)).toEqual([6, 7]);
    expect(redisOnly.chain.sealed).toBeUndefined();
    // All of it sealed: still one intact chain, ending where Redis's head is.
    await sealer.seal('whole');
    const allSealed = await readTrail({ trail, tenant: 'whole', sealed });
    expect(allSealed.chain).toMatchObject({ ok: true, entries: 7, sealed: { segments: 4, entries: 7 } });
  });

  it('counts once an entry both sealed and still in Redis (a pass stopped before its trim)', async () => {
    const [stored] = await trail.stored('whole');
    expect(stored).toBeUndefined();
    await trail.append(callEvent('whole', 'late'));
    const [late] = await trail.stored('whole');
    await sealer.seal('whole');
    // Put the sealed entry back as if the trim had never happened.
    await audit.redis.xadd(
      auditStreamKey(audit.ns.installation.registryPrefix, 'whole'),
      '*',
      'entry',
      JSON.stringify(late!.entry),
    );
    const view = await readTrail({ trail, tenant: 'whole', sealed });
    expect(view.chain).toMatchObject({ ok: true, entries: 8 });
    expect(view.entries.filter((e) => e.seq === 8)).toEqual([{ ...late!.entry, segment: 5 }]);
    // The next pass trims it.
    await sealer.seal('whole');
    expect(await trail.stored('whole')).toEqual([]);
  });

  it('reads as broken when a sealed segment was edited, naming it', async () => {
    await appendAll('edited', 4);
    await sealer.seal('edited');
    // Read once as the console does, with its cache of verified segments: intact.
    const cached = { ...sealed, verified: new VerifiedSegments() };
    expect((await readTrail({ trail, tenant: 'edited', sealed: cached })).chain.ok).toBe(true);
    const file = join(sealed.root, 'edited', segmentFileName(2));
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[1] = lines[1]!.replace('"tool":"t2"', '"tool":"tX"');
    await writeFile(file, lines.join('\n'));
    // Read again, with and without the cache: the edit is caught either way.
    for (const source of [sealed, cached]) {
      const view = await readTrail({ trail, tenant: 'edited', sealed: source });
      expect(view.chain.ok).toBe(false);
      expect(view.chain.problem).toBe(
        `sealed segments: ${segmentFileName(2)}: entry 3: content changed (content does not match the signed digest)`,
      );
    }
    expect(cached.verified.hits).toBe(1);
  });

  it('reads as broken when what Redis holds does not continue the segments', async () => {
    await appendAll('forked', 3);
    await sealer.seal('forked');
    // An entry that claims to come next but links elsewhere (Redis lost its data, or was written to).
    const forged = {
      ...callEvent('forked', 'forged'),
      seq: 4,
      at: new Date().toISOString(),
      prev: '1'.repeat(64),
    };
    await audit.redis.xadd(
      auditStreamKey(audit.ns.installation.registryPrefix, 'forked'),
      '*',
      'entry',
      JSON.stringify({ ...forged, hash: '2'.repeat(64) }),
    );
    const view = await readTrail({ trail, tenant: 'forked', sealed });
    expect(view.chain).toMatchObject({
      ok: false,
      problem: 'entry 4 in Redis does not follow the sealed segments (they end at seq 3)',
    });
  });

  it('is intact when entries were appended and sealed between its read of Redis and of the segments', async () => {
    await appendAll('meanwhile', 3);
    await sealer.seal('meanwhile');
    await appendAll('meanwhile', 2);
    // The sealer's pass (entries 4 to 6, one of them new) lands between the two reads.
    const racing = Object.create(trail) as AuditTrail;
    racing.read = async (tenant) => {
      const read = await trail.read(tenant);
      await appendAll(tenant, 1);
      await sealer.seal(tenant);
      return read;
    };
    const view = await readTrail({ trail: racing, tenant: 'meanwhile', sealed });
    expect(view.chain).toMatchObject({ ok: true, entries: 6, sealed: { segments: 4, entries: 6 } });
    expect(view.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(view.chain.head).toBe(view.entries.at(-1)?.hash);
  });

  it('reads as broken when entries Redis appended are gone unsealed', async () => {
    await appendAll('lost', 3);
    await sealer.seal('lost');
    await appendAll('lost', 2);
    // Entries 4 and 5 dropped from Redis without a seal: its head names what no one holds.
    await audit.redis.xtrim(auditStreamKey(audit.ns.installation.registryPrefix, 'lost'), 'MAXLEN', 0);
    const view = await readTrail({ trail, tenant: 'lost', sealed });
    expect(view.chain).toMatchObject({
      ok: false,
      problem: 'the head in Redis is not where the sealed segments end (entries missing)',
    });
  });

  it('leaves out what retention pruned, and says so', async () => {
    await appendAll('pruned', 5);
    await sealer.seal('pruned');
    audit.clock.at = new Date(Date.now() + 2 * 86_400_000);
    expect(await sealer.prune('pruned', 1)).toBe(3);
    audit.clock.at = undefined;
    await appendAll('pruned', 1);
    const view = await readTrail({ trail, tenant: 'pruned', sealed });
    expect(view.entries.map((e) => e.seq)).toEqual([6]);
    expect(view.chain).toMatchObject({
      ok: true,
      entries: 1,
      sealed: { segments: 0, entries: 0, prunedThrough: 3 },
    });
  });
});

describe('the trail of an offboarded tenant', () => {
  it('keeps its expiry through an append after offboarding set it (a router’s late entry)', async () => {
    await appendAll('offboarded', 2);
    await trail.expireAfter('offboarded', 1);
    await appendAll('offboarded', 1);
    const prefix = audit.ns.installation.registryPrefix;
    // Without an expiry (TTL -1) the head, or the whole trail, would stay in Redis for good.
    for (const key of [auditStreamKey(prefix, 'offboarded'), auditHeadKey(prefix, 'offboarded')]) {
      const ttl = await audit.redis.ttl(key);
      expect({ key, ttl: ttl > 0 && ttl <= 86_400 }).toEqual({ key, ttl: true });
    }
  });
});
