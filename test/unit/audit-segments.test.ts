// The pure segment logic (kernel/audit): segments built from a chained run of entries verify offline,
// and every kind of tampering (an edited entry or header, a removed, reordered or foreign segment,
// a forged pruning marker) is named precisely; pruning is told apart from removal.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { argsDigest, argsDigestKey, reportedUnits } from '../../kernel/audit/audit-record.ts';
import { entryHash, GENESIS_HASH, type AuditEntry } from '../../kernel/audit/audit-trail.ts';
import {
  buildSegment,
  FIRST_SEGMENT_PREV,
  segmentFileName,
  segmentNumberOf,
} from '../../kernel/audit/audit-segment.ts';
import {
  checkSegments,
  prunable,
  retainedSince,
  signPruneMarker,
  VerifiedSegments,
  type SegmentFile,
} from '../../kernel/audit/segment-chain.ts';

const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

function chain(count: number, startAt = Date.parse('2026-01-01T00:00:00Z')): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const body = {
      tenant: 'acme',
      user: 'u1',
      agent: 'agent-1',
      tool: 'records_get',
      decision: 'permit' as const,
      reason: 'ok',
      kind: 'call' as const,
      status: 'ok' as const,
      latency_ms: seq,
      seq,
      at: new Date(startAt + seq * 3_600_000).toISOString(),
      prev,
    };
    const hash = entryHash(body);
    entries.push({ ...body, hash });
    prev = hash;
  }
  return entries;
}

/** Segments of `size` entries each, signed with `key`. */
function seal(entries: AuditEntry[], size: number, key: KeyObject = keys.privateKey): SegmentFile[] {
  const files: SegmentFile[] = [];
  let prevDigest = FIRST_SEGMENT_PREV;
  for (let i = 0; i * size < entries.length; i++) {
    const built = buildSegment({
      tenant: 'acme',
      segment: i + 1,
      prevSegmentDigest: prevDigest,
      entries: entries.slice(i * size, (i + 1) * size),
      privateKey: key,
      sealedAt: new Date('2026-02-01T00:00:00Z'),
    });
    prevDigest = built.footer.digest;
    files.push({ name: segmentFileName(i + 1), number: i + 1, text: built.text });
  }
  return files;
}

const check = (files: SegmentFile[], marker?: string) =>
  checkSegments({ files, marker, publicKey: keys.publicKey, tenant: 'acme' });

function editLine(
  file: SegmentFile,
  line: number,
  edit: (value: Record<string, unknown>) => void,
): SegmentFile {
  const lines = file.text.split('\n');
  const value = JSON.parse(lines[line] as string) as Record<string, unknown>;
  edit(value);
  lines[line] = JSON.stringify(value);
  return { ...file, text: lines.join('\n') };
}

describe('sealed audit segments', () => {
  const entries = chain(10);
  const files = seal(entries, 3);

  it('verify a chain of segments and report its head', () => {
    expect(files.map((f) => f.name)).toEqual([1, 2, 3, 4].map(segmentFileName));
    expect(segmentNumberOf('segment-00000004.jsonl')).toBe(4);
    expect(segmentNumberOf('segment-4.jsonl.tmp')).toBeUndefined();
    expect(check(files)).toMatchObject({
      ok: true,
      segments: 4,
      entries: 10,
      lastSeq: 10,
      head: entries[9]!.hash,
    });
    // A directory given as is (verify --dir) is named by the tenant its segments belong to.
    const asIs = checkSegments({ files, publicKey: keys.publicKey });
    expect(asIs).toMatchObject({ ok: true, tenant: 'acme' });
  });

  it('name an edited entry by its seq', () => {
    const tampered = editLine(files[1]!, 2, (e) => (e.decision = 'deny'));
    expect(check([files[0]!, tampered, files[2]!, files[3]!])).toMatchObject({
      ok: false,
      problem: `${segmentFileName(2)}: entry 5: content changed (content does not match the signed digest)`,
    });
  });

  it('skip the checks of segments verified before, and still catch one edited since', () => {
    const verified = new VerifiedSegments();
    const run = (list: SegmentFile[], publicKey: KeyObject = keys.publicKey) =>
      checkSegments({ files: list, publicKey, tenant: 'acme', verified });
    const first = run(files);
    expect(first).toMatchObject({ ok: true, segments: 4, entries: 10 });
    expect([verified.size, verified.hits]).toEqual([4, 0]);
    expect(run(files)).toEqual(first);
    expect(verified.hits).toBe(4);
    // A byte changed since: another key, checked again, and caught.
    const tampered = editLine(files[1]!, 2, (e) => (e.decision = 'deny'));
    expect(run([files[0]!, tampered, files[2]!, files[3]!])).toMatchObject({
      ok: false,
      problem: `${segmentFileName(2)}: entry 5: content changed (content does not match the signed digest)`,
    });
    // Another key, or a segment out of its place: not taken from what was verified.
    expect(run(files, other.publicKey).ok).toBe(false);
    expect(run([files[0]!, { ...files[2]!, number: 2 }, files[3]!]).ok).toBe(false);
    // Bounded by the entries it holds.
    const small = new VerifiedSegments({ maxEntries: 6 });
    checkSegments({ files, publicKey: keys.publicKey, tenant: 'acme', verified: small });
    expect(small.size).toBe(2);
  });

  it('keep finding what they hold when a trail is larger than their bound, and let go of what is no longer read', () => {
    let now = 0;
    // The four segments hold 3, 3, 3 and 1 entries: room for the first two.
    const verified = new VerifiedSegments({ maxEntries: 6, staleMs: 1_000, now: () => now });
    const run = (list: SegmentFile[] = files) =>
      checkSegments({ files: list, publicKey: keys.publicKey, tenant: 'acme', verified });
    expect(run().ok).toBe(true);
    expect([verified.size, verified.hits]).toEqual([2, 0]);
    // Read after read, in segment order: the first two are found every time (evicting the oldest
    // to admit the next would leave nothing to find).
    now = 500;
    run();
    run();
    expect([verified.size, verified.hits]).toEqual([2, 4]);
    // Segments no read found for staleMs make room: another trail, read after the first went unread.
    const later = seal(chain(6, Date.parse('2026-02-01T00:00:00Z')), 3);
    const readLater = () =>
      checkSegments({ files: later, publicKey: keys.publicKey, tenant: 'acme', verified });
    now = 1_200;
    readLater();
    expect([verified.size, verified.hits]).toEqual([2, 4]);
    now = 2_000;
    readLater();
    readLater();
    expect([verified.size, verified.hits]).toEqual([2, 6]);
  });

  it('read a segment that verified before without its checks, and still check one changed since', () => {
    // Room for the first segment's entries only: the others are remembered by their verdicts.
    const verified = new VerifiedSegments({ maxEntries: 3, maxVerdicts: 3 });
    const run = (list: SegmentFile[] = files) =>
      checkSegments({ files: list, publicKey: keys.publicKey, tenant: 'acme', verified });
    const first = run();
    expect([verified.size, verified.hits, verified.readAgain]).toEqual([1, 0, 0]);
    const entriesOf = (list: SegmentFile[]) => {
      const seen: number[] = [];
      checkSegments({
        files: list,
        publicKey: keys.publicKey,
        tenant: 'acme',
        verified,
        onVerified: (p) => seen.push(...p.entries.map((e) => e.seq)),
      });
      return seen;
    };
    // The verdicts hold the last three (the bound): all four are found again, by entries or verdict.
    expect(run()).toEqual(first);
    expect([verified.hits, verified.readAgain]).toEqual([1, 3]);
    expect(entriesOf(files)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // A byte changed since is another key: checked in full, and caught.
    const tampered = editLine(files[2]!, 1, (e) => (e.tool = 'records_delete'));
    expect(run([files[0]!, files[1]!, tampered, files[3]!])).toMatchObject({ ok: false });
    // A verdict is for its place only: a verified segment moved elsewhere is checked, and refused.
    expect(run([files[0]!, { ...files[2]!, number: 2 }, files[3]!]).ok).toBe(false);
    // Nothing remembered: every segment checked in full again.
    const none = new VerifiedSegments({ maxEntries: 0, maxVerdicts: 0 });
    checkSegments({ files, publicKey: keys.publicKey, tenant: 'acme', verified: none });
    checkSegments({ files, publicKey: keys.publicKey, tenant: 'acme', verified: none });
    expect([none.hits, none.readAgain]).toEqual([0, 0]);
  });

  it('name an edited header', () => {
    const tampered = editLine(files[0]!, 0, (h) => (h.sealed_at = '2020-01-01T00:00:00.000Z'));
    expect(check([tampered, ...files.slice(1)]).problem).toBe(
      `${segmentFileName(1)}: header edited (content does not match the signed digest; entries intact)`,
    );
  });

  it('detect a segment re-signed with a key that is not the installation’s', () => {
    const forged = seal(entries, 3, other.privateKey);
    expect(check(forged).problem).toMatch(/^segment-00000001\.jsonl: signed by another key/);
  });

  it('detect a removed segment, first or in the middle', () => {
    expect(check([files[0]!, files[2]!, files[3]!]).problem).toBe(
      `segment 2 missing: ${segmentFileName(3)} follows segment 1`,
    );
    expect(check(files.slice(1)).problem).toBe(
      `segment 1 missing: ${segmentFileName(2)} follows the start of the trail`,
    );
  });

  it('detect reordered segments (contents swapped between names)', () => {
    const swapped = [
      files[0]!,
      { ...files[2]!, number: 2, name: segmentFileName(2) },
      { ...files[1]!, number: 3, name: segmentFileName(3) },
    ];
    expect(check(swapped).problem).toBe(
      `${segmentFileName(2)}: holds segment 3 where segment 2 belongs (reordered or renamed)`,
    );
  });

  it('detect a truncated or malformed segment', () => {
    const cut = (lines: number): SegmentFile => ({
      ...files[0]!,
      text: files[0]!.text.split('\n').slice(0, lines).join('\n') + '\n',
    });
    expect(check([cut(3)]).problem).toBe(`${segmentFileName(1)}: footer malformed`);
    expect(check([cut(2)]).problem).toBe(
      `${segmentFileName(1)}: truncated (needs a header, an entry and a footer)`,
    );
  });

  it('accept a signed pruning marker and refuse a forged or edited one', () => {
    const second = files[1]!;
    const lines = second.text.trim().split('\n');
    const footer = JSON.parse(lines.at(-1)!) as { digest: string };
    const unsigned = {
      type: 'pruned' as const,
      format: 'bulkhead-audit-segment/1' as const,
      tenant: 'acme',
      through_segment: 2,
      digest: footer.digest,
      last_seq: 6,
      last_hash: entries[5]!.hash,
      last_at: entries[5]!.at,
      pruned_at: '2026-03-01T00:00:00.000Z',
    };
    const marker = JSON.stringify(signPruneMarker(unsigned, keys.privateKey));
    expect(check(files.slice(2), marker)).toMatchObject({
      ok: true,
      segments: 2,
      entries: 4,
      prunedThrough: 2,
    });
    // Files the marker covers but a crash left behind are not an error.
    expect(check(files, marker)).toMatchObject({ ok: true, segments: 2 });
    // Pruning past what the marker says is a removal.
    expect(check(files.slice(3), marker).problem).toBe(
      `segment 3 missing: ${segmentFileName(4)} follows the pruning marker (segments up to 2 pruned)`,
    );
    const forged = JSON.stringify(signPruneMarker({ ...unsigned, through_segment: 3 }, other.privateKey));
    expect(check(files.slice(3), forged).problem).toMatch(/^pruning marker signed by another key/);
    const edited = JSON.stringify({ ...(JSON.parse(marker) as object), through_segment: 3 });
    expect(check(files.slice(3), edited).problem).toBe('pruning marker signature does not verify (edited)');
  });

  it('prune only the oldest segments wholly past retention, never past one within it', () => {
    // Sealed as the last entry was written: the entries' time decides.
    const at = (n: number, lastAt: string) => ({ n, header: { last_at: lastAt, sealed_at: lastAt } });
    const segments = [
      at(1, '2026-01-01T00:00:00Z'),
      at(2, '2026-01-05T00:00:00Z'),
      at(3, '2026-01-03T00:00:00Z'),
    ];
    expect(prunable(segments, new Date('2026-01-04T00:00:00Z')).map((s) => s.n)).toEqual([1]);
    expect(prunable(segments, new Date('2026-01-05T00:00:00Z')).map((s) => s.n)).toEqual([1]);
    expect(prunable(segments, new Date('2026-01-06T00:00:00Z')).map((s) => s.n)).toEqual([1, 2, 3]);
  });

  it('count retention from the sealing when the entries claim to be older (a router clock behind)', () => {
    const behind = { n: 1, header: { last_at: '2020-01-01T00:00:00Z', sealed_at: '2026-01-05T00:00:00Z' } };
    expect(retainedSince(behind.header)).toBe(Date.parse('2026-01-05T00:00:00Z'));
    expect(prunable([behind], new Date('2026-01-05T00:00:00Z'))).toEqual([]);
    expect(prunable([behind], new Date('2026-01-05T00:00:00.001Z'))).toEqual([behind]);
    // A sealer clock behind the entries' does not make them prunable earlier either.
    const ahead = { header: { last_at: '2026-01-05T00:00:00Z', sealed_at: '2020-01-01T00:00:00Z' } };
    expect(retainedSince(ahead.header)).toBe(Date.parse('2026-01-05T00:00:00Z'));
    // A time that is no date keeps the segment.
    expect(prunable([{ header: { last_at: '2020-01-01T00:00:00Z', sealed_at: 'x' } }], new Date())).toEqual(
      [],
    );
  });
});

describe('audit record helpers', () => {
  it('key argument digests per tenant and canonically', () => {
    const a = argsDigestKey('installation-secret', 'acme');
    const b = argsDigestKey('installation-secret', 'globex');
    expect(argsDigest(a, { x: 1, y: [1, 2] })).toBe(argsDigest(a, { y: [1, 2], x: 1 }));
    expect(argsDigest(a, { x: 1 })).not.toBe(argsDigest(b, { x: 1 }));
    expect(argsDigest(a, { x: 1 })).not.toBe(argsDigest(argsDigestKey('other-secret', 'acme'), { x: 1 }));
    expect(argsDigest(a, { x: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(argsDigest(a, { x: 1, idempotency_key: 'k1' })).toBe(
      argsDigest(a, { x: 1, idempotency_key: 'k2' }),
    );
  });

  it('take units only as a finite non-negative number', () => {
    expect(reportedUnits({ _meta: { 'io.bulkhead/units': 12.5 } })).toBe(12.5);
    expect(reportedUnits({ _meta: { 'io.bulkhead/units': 0 } })).toBe(0);
    for (const bad of [-1, '3', Number.NaN, Number.POSITIVE_INFINITY, null])
      expect(reportedUnits({ _meta: { 'io.bulkhead/units': bad } })).toBeUndefined();
    expect(reportedUnits({})).toBeUndefined();
  });
});
