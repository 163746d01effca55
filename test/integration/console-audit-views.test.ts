// The console's reads of a long audit trail (console/audit-views.ts): a page of the newest matching
// entries and the latest errors, counted over the whole trail but holding only what they answer
// with; the export written as each segment verifies again, up to the head its header names, and cut
// short when the trail changes between its two passes. Real Redis, real files, the supervisor's
// sealer, a real HTTP server and client for the export.
import { createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import type { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { readTrail, type SealedSource } from '../../tenants/control-plane/audit-history.ts';
import { auditPage, exportTrail, Newest, recentErrors, type AuditSource } from '../../console/audit-views.ts';
import { consoleConfig } from '../../console/config.ts';
import { TenantViews } from '../../console/tenant-views.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { auditHarness, callEvent, withTimeout, type AuditHarness } from '../support/audit-harness.ts';
import { until } from '../support/until.ts';

let audit: AuditHarness;
let trail: AuditTrail;
let sealed: SealedSource;
let server: Server;
let url: string;
/** The export the server is running (the newest). */
let exported: Promise<void> | undefined;
/** Runs between the export's two passes (the test's edits). */
let betweenPasses: (() => Promise<void>) | undefined;
/** How long the next export may take (the console's default otherwise). */
let exportTimeoutMs: number | undefined;
/** The createdAt of the record the next export admits by (none: it reads no record). */
let admittedAs: string | undefined;

const source = (tenant: string): AuditSource => ({ trail, tenant, sealed });

beforeAll(async () => {
  audit = await auditHarness('console-audit', ['long', 'changed', 'wide']);
  trail = audit.trail;
  sealed = { root: audit.auditDir, publicKey: createPublicKey(audit.privateKey) };
  const sealer = audit.sealer({ maxEntries: 10 });
  for (const tenant of ['long', 'changed']) {
    // 45 entries: every third a refusal; 40 sealed into four segments, 5 still in Redis.
    for (let i = 1; i <= 45; i++)
      await trail.append(
        callEvent(tenant, `tool${i % 3}`, i % 3 === 0 ? { decision: 'deny', reason: `r${i}` } : {}),
      );
    await sealer.seal(tenant);
  }
  for (let i = 46; i <= 48; i++) await trail.append(callEvent('long', 'tool1'));
  // 'wide': an export of about 20 MB (8,000 entries of 2.5 KB), more than the sockets between a
  // server and a client that stops reading hold, in two segments and Redis.
  const reason = 'x'.repeat(2_500);
  for (let batch = 0; batch < 16; batch++)
    await Promise.all(
      Array.from({ length: 500 }, () => trail.append(callEvent('wide', 'tool1', { reason }))),
    );
  await audit.sealer({ maxEntries: 4_000 }).seal('wide');
  server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://x');
    // The trail as the export reads it, the test's hook run as its second pass starts (each pass
    // begins with the entries in Redis): the edits land between the passes, every time.
    let passes = 0;
    const read = trail.read.bind(trail);
    const between = Object.create(trail, {
      read: {
        value: async (tenant: string) => {
          passes += 1;
          if (passes === 2) await betweenPasses?.();
          return read(tenant);
        },
      },
    }) as AuditTrail;
    exported = exportTrail(
      { trail: between, tenant: target.pathname.slice(1), sealed },
      target.searchParams,
      res,
      {
        timeoutMs: exportTimeoutMs ?? consoleConfig.fields.exportTimeoutMs.schema.parse(undefined),
        ...(admittedAs === undefined ? {} : { admit: () => Promise.resolve({ createdAt: admittedAs! }) }),
      },
    ).finally(() => {
      betweenPasses = undefined;
      exportTimeoutMs = undefined;
      admittedAs = undefined;
    });
    // A failed export is the test's to assert (awaiting `exported`), not an unhandled rejection.
    exported.catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await audit?.close();
});

describe('a page of the trail', () => {
  it('is the newest matching entries, counted over the whole trail, sealed and in Redis', async () => {
    const whole = (await readTrail({ trail, tenant: 'long', sealed })).entries;
    expect(whole).toHaveLength(48);
    const page = await auditPage(source('long'), new URLSearchParams({ decision: 'deny', limit: '4' }));
    const denied = whole.filter((e) => e.decision === 'deny');
    expect(page).toMatchObject({
      total: 48,
      matched: denied.length,
      limit: 4,
      chain: { ok: true, entries: 48 },
    });
    expect(page.entries.map((e) => e.seq)).toEqual(denied.slice(-4).map((e) => e.seq));
    const all = await auditPage(source('long'), new URLSearchParams());
    expect(all.entries.map((e) => e.hash)).toEqual(whole.map((e) => e.hash));
  });

  it('pages back from the newest: the entries older than a seq, and how many older remain', async () => {
    const denied = (await readTrail({ trail, tenant: 'long', sealed })).entries.filter(
      (e) => e.decision === 'deny',
    );
    const first = await auditPage(source('long'), new URLSearchParams({ decision: 'deny', limit: '4' }));
    expect(first.older).toBe(denied.length - 4);
    const next = await auditPage(
      source('long'),
      new URLSearchParams({ decision: 'deny', limit: '4', before: String(first.entries[0]!.seq) }),
    );
    expect(next.entries.map((e) => e.seq)).toEqual(denied.slice(-8, -4).map((e) => e.seq));
    expect([next.matched, next.older]).toEqual([denied.length, denied.length - 8]);
    await expect(auditPage(source('long'), new URLSearchParams({ before: '0' }))).rejects.toThrow(
      /before must be/,
    );
  });

  it('refuses a limit it does not serve', async () => {
    for (const limit of ['0', '5001', 'ten', '2.5'])
      await expect(auditPage(source('long'), new URLSearchParams({ limit }))).rejects.toThrow(
        /limit must be/,
      );
  });

  it('shows the latest errors newest first', async () => {
    const { entries } = await recentErrors(source('long'), 3);
    expect(entries.map((e) => e.seq)).toEqual([45, 42, 39]);
  });
});

describe('the newest of a stream', () => {
  it('keeps the last items pushed, oldest first, whatever their number', () => {
    const ring = new Newest<number>(3);
    for (let i = 1; i <= 2; i++) ring.push(i);
    expect(ring.items).toEqual([1, 2]);
    for (let i = 3; i <= 10; i++) ring.push(i);
    expect(ring.items).toEqual([8, 9, 10]);
  });
});

describe('the export', () => {
  it('writes every matching entry of the intact trail, the header naming its head', async () => {
    const response = await fetch(`${url}/long?tool=tool2`);
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; tool: string });
    const whole = (await readTrail({ trail, tenant: 'long', sealed })).entries;
    expect(lines.map((e) => e.seq)).toEqual(whole.filter((e) => e.tool === 'tool2').map((e) => e.seq));
    expect(response.headers.get('x-audit-chain')).toBe(`intact; 48 entries; head ${whole.at(-1)!.hash}`);
  });

  it('stops at the head its header names when the trail grows between its passes', async () => {
    const head = (await readTrail({ trail, tenant: 'long', sealed })).entries.at(-1)!;
    betweenPasses = async () => {
      await trail.append(callEvent('long', 'tool1'));
    };
    const response = await fetch(`${url}/long`);
    const seqs = (await response.text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs.at(-1)).toBe(head.seq);
    expect(response.headers.get('x-audit-chain')).toContain(`head ${head.hash}`);
  });

  it('waits for a client that reads slowly, and writes it everything', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      get(`${url}/wide`, (response) => {
        const chunks: Buffer[] = [];
        response.pause();
        // Reads nothing for half a second: the server's writes fill the sockets and wait.
        setTimeout(() => response.resume(), 500);
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      }).on('error', reject);
    });
    expect(body.trim().split('\n')).toHaveLength(8_000);
  });

  it('stops, holding nothing, when its client leaves in the middle', async () => {
    await new Promise<void>((resolve, reject) => {
      get(`${url}/wide`, (response) => {
        response.pause();
        // Gone once the server has had the time to fill the sockets and wait for them.
        setTimeout(() => {
          response.destroy();
          resolve();
        }, 500);
      }).on('error', reject);
    });
    // The export's scan ends (it would wait for a 'drain' that never comes without the check).
    await expect(withTimeout(exported!, 10_000)).resolves.toBeUndefined();
  });

  it('cuts the download of a client that stops reading once its time is up, and says why', async () => {
    exportTimeoutMs = 2_000;
    exported = undefined;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      // Reads nothing: without the deadline the export would wait for this client for good.
      get(`${url}/wide`, (answer) => resolve(answer.pause())).on('error', reject);
    });
    await until(() => exported !== undefined, 'the export to end');
    await expect(withTimeout(exported!, 10_000)).rejects.toThrow(
      'the audit export of wide ran past its 2 s (BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS) and was cut',
    );
    // What the client has, read now: a download that fails, not one that looks whole.
    const ending = new Promise<string>((resolve) => {
      response.on('end', () => resolve('ended as if whole'));
      response.on('error', () => resolve('cut'));
    });
    response.resume();
    await expect(withTimeout(ending, 10_000)).resolves.toBe('cut');
  });

  it('fails the download when the trail cannot be read in its second pass', async () => {
    betweenPasses = () => Promise.reject(new Error('Redis went away'));
    // Cut, not ended (fetch's TypeError): ended, it would look whole, its header saying "intact".
    const download = fetch(`${url}/long`).then((response) => response.text());
    await expect(withTimeout(download, 10_000)).rejects.toThrow(TypeError);
    await expect(exported).rejects.toThrow('Redis went away');
  });

  it("names a broken trail's problem in its header, whatever the broken segment holds", async () => {
    // A footer's key id is read before its signature is checked: a changed one, with a line break
    // and a character beyond Latin-1, is part of the problem the header names.
    const file = join(audit.auditDir, 'long', segmentFileName(1));
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/"key_id":"[^"]*"/, '"key_id":"k\\r\\nX-Forged: 1 \u2713"'));
    try {
      const response = await withTimeout(fetch(`${url}/long`), 10_000);
      expect(response.status).toBe(200);
      const chain = response.headers.get('x-audit-chain') ?? '';
      expect(chain).toMatch(/^broken; sealed segments: segment-00000001\.jsonl: signed by another key/);
      expect(chain).toContain('key id k??X-Forged: 1 ?');
      expect(response.headers.get('x-forged')).toBeNull();
      // What a broken trail's export holds: the entries still in Redis.
      const inRedis = (await trail.read('long')).entries.map((e) => e.seq);
      const lines = (await response.text()).trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(inRedis);
    } finally {
      await writeFile(file, text);
    }
  });

  it('fails the download when a segment is edited between its passes', async () => {
    const file = join(audit.auditDir, 'changed', segmentFileName(2));
    const text = await readFile(file, 'utf8');
    betweenPasses = () => writeFile(file, text.replace('tool1', 'toolX'));
    const response = await fetch(`${url}/changed`);
    expect(response.headers.get('x-audit-chain')).toMatch(/^intact; 45 entries/);
    await expect(response.text()).rejects.toThrow();
  });
});

describe('segments of another tenant of the id', () => {
  // What a directory holding an earlier tenant's segments (offboarded, then put back) looks like to
  // the record of the tenant onboarded again: segments that name another creation.
  const earlier = '2020-01-01T00:00:00.000Z';

  it("shows a trail broken when its segments name another creation than the record's", async () => {
    const { createdAt } = (await audit.registry.get('long'))!;
    const own = await auditPage({ ...source('long'), createdAt }, new URLSearchParams());
    expect(own.chain.ok).toBe(true);
    const other = await auditPage({ ...source('long'), createdAt: earlier }, new URLSearchParams());
    expect(other.chain.ok).toBe(false);
    expect(other.chain.problem).toContain(`not of the one created ${earlier}`);
  });

  it("exports it with a broken header when the admitted record's creation is another", async () => {
    admittedAs = (await audit.registry.get('long'))!.createdAt;
    const own = await fetch(`${url}/long`);
    expect(own.headers.get('x-audit-chain')).toMatch(/^intact; /);
    await own.text();
    admittedAs = earlier;
    const other = await fetch(`${url}/long`);
    expect(other.headers.get('x-audit-chain')).toContain(`not of the one created ${earlier}`);
    // A broken trail's export holds the entries still in Redis only.
    const inRedis = (await trail.read('long')).entries.map((e) => e.seq);
    const lines = (await other.text()).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(inRedis);
  });
});

describe("a tenant's detail view", () => {
  it('shows its chain broken when the sealed segments are of an earlier tenant of the id', async () => {
    await audit.registry.create({ id: 'again', plan: planByName('small'), isolation: 'runc' });
    for (let i = 0; i < 3; i++) await trail.append(callEvent('again', 'tool1'));
    await audit.sealer({ maxEntries: 10 }).seal('again');
    const views = new TenantViews({
      cp: { registry: audit.registry, audit: trail, runtimes: { inspect: () => Promise.resolve(null) } },
      ...{ redis: audit.redis, prefix: audit.ns.installation.registryPrefix, sealed, pageSize: 50 },
    } as unknown as ConstructorParameters<typeof TenantViews>[0]);
    expect((await views.detail('again')).chain.ok).toBe(true);
    // The record replaced under the id (offboarding is not what is tested: its directory stays).
    await audit.registry.delete('again');
    const { createdAt } = await audit.registry.create({
      id: 'again',
      plan: planByName('small'),
      isolation: 'runc',
    });
    const chain = (await views.detail('again')).chain;
    expect(chain.ok).toBe(false);
    expect(chain.problem).toContain(`not of the one created ${createdAt}`);
  });
});
