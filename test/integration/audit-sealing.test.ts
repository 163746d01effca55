// The sealer against the real Redis and real files, and `bulkhead audit verify|export` as an operator
// runs them (a separate process, offline: no Redis in their environment): entries move out of Redis
// into signed segments and only those are trimmed, the chain runs on across segments and concurrent
// appenders, tampering with the files is named precisely, and retention removes only whole segments
// past it, recorded so that verify tells it from a removal. Two processes taking turns on one
// trail: an append that lost its race chains on from the head the script answered with.
import { copyFile, cp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis, type Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, type AuditEvent } from '../../kernel/audit/audit-trail.ts';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import type { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import {
  exportSegments,
  readPublicKey,
  type AuditKeyFiles,
} from '../../tenants/control-plane/audit-segments.ts';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';
import { runCli } from '../support/cli.ts';
import type { TestNamespace } from '../support/namespace.ts';

const TENANT = 'acme';
let ns: TestNamespace;
let redis: Redis;
let trail: AuditTrail;
let auditDir: string;
let keys: AuditKeyFiles;
let harness: AuditHarness;
let sealer: AuditSealer;
let verifiedHead = '';

const event = (tool: string): AuditEvent => callEvent(TENANT, tool, { latency_ms: 1.5 });

/** The CLI offline: a Redis URL nobody listens on, so any use of Redis would fail the command. */
const cli = (...args: string[]) =>
  runCli(
    {
      namespace: ns.namespace,
      devDir: join(ns.runDir, 'dev'),
      extra: {
        BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
        BULKHEAD_AUDIT_DIR: auditDir,
        BULKHEAD_AUDIT_PUBLIC_KEY_FILE: keys.publicKeyFile,
      },
    },
    args,
  );

/** A copy of the tenant's segments for one tampering experiment. */
async function copyOf(name: string): Promise<string> {
  const dir = join(ns.runDir, 'tamper', name);
  await cp(join(auditDir, TENANT), dir, { recursive: true });
  return dir;
}

async function editLine(file: string, line: number, edit: (value: Record<string, unknown>) => void) {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const value = JSON.parse(lines[line]!) as Record<string, unknown>;
  edit(value);
  lines[line] = JSON.stringify(value);
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
}

beforeAll(async () => {
  harness = await auditHarness('audit-seal', [TENANT]);
  ({ ns, redis, trail, auditDir, keys } = harness);
  sealer = harness.sealer({ maxEntries: 4 });
});

afterAll(async () => {
  await harness?.close();
});

describe('sealing', () => {
  it('moves entries into signed read-only segments, trims only those, and the chain runs on', async () => {
    // Two writers (two routers) appending at once: still one chain.
    const other = new AuditTrail({
      redis: new Redis(ns.installation.redis),
      prefix: ns.installation.registryPrefix,
    });
    await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : trail).append(event(`t${i}`))));
    await sealer.runOnce();
    expect(await readdir(join(auditDir, TENANT))).toEqual([segmentFileName(1), segmentFileName(2)]);
    expect((await stat(join(auditDir, TENANT, segmentFileName(1)))).mode & 0o777).toBe(0o440);
    expect(await trail.entries(TENANT)).toEqual([]);
    // Appends after sealing continue the chain from the head, in either writer.
    await other.append(event('after-1'));
    await trail.append(event('after-2'));
    const rest = await trail.entries(TENANT);
    expect(rest.map((e) => e.seq)).toEqual([7, 8]);
    expect(await trail.verify(TENANT)).toMatchObject({ ok: true, entries: 2 });
    await sealer.runOnce();
    expect(await trail.entries(TENANT)).toEqual([]);
    const verified = await cli('audit', 'verify', TENANT);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/intact: segments 1-3, 8 entries; last seq 8/);
    (other as unknown as { redis: Redis }).redis.disconnect();
  });

  it('seals nothing twice after a pass that stopped between writing a segment and trimming Redis', async () => {
    await trail.append(event('crash-1'));
    const [stored] = await trail.stored(TENANT);
    await sealer.seal(TENANT);
    // Put the sealed entry back as if the trim had never happened.
    await redis.xadd(
      `${ns.installation.registryPrefix}:audit:${TENANT}`,
      '*',
      'entry',
      JSON.stringify(stored!.entry),
    );
    await trail.append(event('crash-2'));
    await sealer.seal(TENANT);
    expect(await trail.entries(TENANT)).toEqual([]);
    const verified = await cli('audit', 'verify', TENANT);
    expect(verified.stdout).toMatch(/intact: segments 1-5, 10 entries; last seq 10/);
    verifiedHead = /head ([0-9a-f]{64})/.exec(verified.stdout)?.[1] ?? '';
  });
});

describe('a Redis chain that does not continue the segments', () => {
  it('is neither sealed nor trimmed (Redis lost its data and a new chain began)', async () => {
    const stream = `${ns.installation.registryPrefix}:audit:${TENANT}`;
    const segments = await readdir(join(auditDir, TENANT));
    const lost = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    await redis.del(stream, `${stream}:head`);
    await lost.append(event('new-chain'));
    expect(await sealer.seal(TENANT)).toEqual({ segments: 0, entries: 0 });
    expect((await lost.entries(TENANT)).map((e) => e.seq)).toEqual([1]);
    expect(await readdir(join(auditDir, TENANT))).toEqual(segments);
    // Put the chain back as the sealed segments left it, for the tests below.
    await redis.del(stream);
    await redis.set(`${stream}:head`, `10:${verifiedHead}`);
  });
});

describe('bulkhead audit verify, offline, names what was done to the files', () => {
  const verifyDir = async (dir: string) => {
    const result = await cli('audit', 'verify', '--dir', dir);
    expect(result.code, result.stderr).toBe(5);
    return result.stderr.trim();
  };

  it('an edited entry', async () => {
    const dir = await copyOf('entry');
    await editLine(join(dir, segmentFileName(2)), 2, (e) => (e.decision = 'deny'));
    expect(await verifyDir(dir)).toContain(
      `${segmentFileName(2)}: entry 6: content changed (content does not match the signed digest)`,
    );
  });

  it('an edited header', async () => {
    const dir = await copyOf('header');
    await editLine(join(dir, segmentFileName(1)), 0, (h) => (h.tenant = 'globex'));
    expect(await verifyDir(dir)).toContain(`${segmentFileName(1)}: header edited`);
  });

  it('a removed segment', async () => {
    const dir = await copyOf('removed');
    await unlink(join(dir, segmentFileName(3)));
    expect(await verifyDir(dir)).toContain(`segment 3 missing: ${segmentFileName(4)} follows segment 2`);
  });

  it('reordered segments', async () => {
    const dir = await copyOf('reordered');
    await rename(join(dir, segmentFileName(2)), join(dir, 'swap'));
    await rename(join(dir, segmentFileName(3)), join(dir, segmentFileName(2)));
    await rename(join(dir, 'swap'), join(dir, segmentFileName(3)));
    expect(await verifyDir(dir)).toContain(
      `${segmentFileName(2)}: holds segment 3 where segment 2 belongs (reordered or renamed)`,
    );
  });

  it('a segment of another tenant put in place of one', async () => {
    const dir = await copyOf('foreign');
    await copyFile(join(dir, segmentFileName(1)), join(dir, 'x'));
    await rm(join(dir, segmentFileName(2)));
    await rename(join(dir, 'x'), join(dir, segmentFileName(2)));
    expect(await verifyDir(dir)).toContain(`${segmentFileName(2)}: holds segment 1 where segment 2 belongs`);
  });

  it('exits 2 without a public key, naming the option', async () => {
    const result = await runCli(
      { namespace: ns.namespace, devDir: join(ns.runDir, 'dev'), extra: { BULKHEAD_AUDIT_DIR: auditDir } },
      ['audit', 'verify', TENANT],
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--public-key');
  });
});

describe('bulkhead audit export, offline, writes only what verified', () => {
  it('exports nothing from a chain that does not verify, and leaves no --out file', async () => {
    const dir = await copyOf('export-broken');
    await editLine(join(dir, segmentFileName(3)), 1, (e) => (e.tool = 'forged'));
    const out = join(ns.runDir, 'broken.jsonl');
    const result = await cli('audit', 'export', '--dir', dir, '--out', out);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`${segmentFileName(3)}: entry`);
    expect(existsSync(out)).toBe(false);
    expect((await readdir(ns.runDir)).filter((name) => name.startsWith('broken.jsonl'))).toEqual([]);
    const toStdout = await cli('audit', 'export', '--dir', dir);
    expect(toStdout.code).toBe(5);
    expect(toStdout.stdout).toBe('');
    const nowhere = await cli('audit', 'export', TENANT, '--out', join(ns.runDir, 'no-such-dir', 'a.jsonl'));
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain('no-such-dir/a.jsonl: cannot write there (ENOENT)');
  });

  it('refuses a segment changed after the chain verified, having written only the ones before it', async () => {
    const dir = await copyOf('export-raced');
    const key = await readPublicKey(keys.publicKeyFile);
    const lines: string[] = [];
    let tampered = false;
    // At the first record written, segment 1 is being exported and segment 2 not yet read again: it
    // is edited then, synchronously, before the export reads on.
    const second = join(dir, segmentFileName(2));
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        if (!tampered) {
          tampered = true;
          writeFileSync(
            second,
            readFileSync(second, 'utf8').replace('"decision":"permit"', '"decision":"deny"'),
          );
        }
        done();
      },
    });
    const exported = exportSegments({ dir }, key, { out });
    await expect(exported).rejects.toMatchObject({
      code: 'audit_verification_failed',
      message: expect.stringContaining(`${segmentFileName(2)} changed after it was verified`),
    });
    const first = (await readFile(join(dir, segmentFileName(1)), 'utf8')).trim().split('\n').length - 2;
    expect(lines.map((line) => (JSON.parse(line) as { segment: number }).segment)).toEqual(
      Array.from({ length: first }, () => 1),
    );
  });
});

describe('retention', () => {
  it('prunes only whole segments past it, with a signed marker verify accepts', async () => {
    const dir = join(auditDir, TENANT);
    // A segment's retention counts from the later of its newest entry and its sealing.
    const since = async (n: number) => {
      const text = await readFile(join(dir, segmentFileName(n)), 'utf8');
      const header = JSON.parse(text.split('\n')[0]!) as { last_at: string; sealed_at: string };
      return Math.max(Date.parse(header.last_at), Date.parse(header.sealed_at));
    };
    const before = await readdir(dir);
    // Within retention (1 day after segment 5's sealing, for a 30-day tenant): nothing goes.
    harness.clock.at = new Date((await since(5)) + 86_400_000);
    expect(await sealer.prune(TENANT, 30)).toBe(0);
    expect(await readdir(dir)).toEqual(before);
    // One day and a millisecond after segment 2's sealing: 1 and 2 go, 3 (sealed a pass later) stays.
    const since2 = await since(2);
    expect(await since(3)).toBeGreaterThan(since2);
    harness.clock.at = new Date(since2 + 86_400_000 + 1);
    expect(await sealer.prune(TENANT, 1)).toBe(2);
    expect(await readdir(dir)).toEqual(
      ['pruned.json', 3, 4, 5].map((n) => (typeof n === 'number' ? segmentFileName(n) : n)),
    );
    const verified = await cli('audit', 'verify', TENANT);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      /intact: segments 3-5, \d+ entries, segments 1-2 pruned by retention; last seq 10/,
    );
    // A segment the marker covers, left by a pass that stopped before removing it, is skipped.
    const leftover = await copyOf('after-prune-leftover');
    await copyFile(
      join(ns.runDir, 'tamper', 'removed', segmentFileName(1)),
      join(leftover, segmentFileName(1)),
    );
    const skipped = await cli('audit', 'verify', '--dir', leftover);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/intact: segments 3-5, \d+ entries, segments 1-2 pruned by retention/);
    // Removing more than the marker says is still a removal.
    const copy = await copyOf('after-prune');
    await unlink(join(copy, segmentFileName(3)));
    const broken = await cli('audit', 'verify', '--dir', copy);
    expect(broken.code).toBe(5);
    expect(broken.stderr).toContain('segment 3 missing');
    harness.clock.at = undefined;
  });
});

/** The real client, with a list of the commands it sent (each script call is an `evalsha`). */
class CountingRedis extends Redis {
  readonly sent: string[] = [];

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    this.sent.push(command.name);
    return super.sendCommand(command, stream);
  }
}

describe('two processes appending to one trail in turns', () => {
  it('chain on from the head the lost try was answered with, without reading it', async () => {
    const tenant = 'turns';
    const clients = [new CountingRedis(ns.installation.redis), new CountingRedis(ns.installation.redis)];
    const [one, two] = clients.map(
      (client) => new AuditTrail({ redis: client, prefix: ns.installation.registryPrefix }),
    );
    const append = (writer: AuditTrail | undefined, tool: string) =>
      writer!.append({ ...event(tool), tenant });
    await append(one, 'one-1');
    await append(two, 'two-1');
    // `one` last wrote seq 1; `two` has moved the head to seq 2 since: `one`'s first try loses.
    clients[0]!.sent.length = 0;
    await append(one, 'one-2');
    expect(clients[0]!.sent).toEqual(['evalsha', 'evalsha']);
    for (let i = 0; i < 6; i += 1) await append(i % 2 ? one : two, `turn-${i}`);
    const entries = await trail.entries(tenant);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(entries.map((e) => e.tool).slice(0, 3)).toEqual(['one-1', 'two-1', 'one-2']);
    expect(await trail.verify(tenant)).toMatchObject({ ok: true, entries: 9 });
    for (const client of clients) client.disconnect();
  });
});
