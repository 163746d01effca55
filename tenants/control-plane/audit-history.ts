// A tenant's whole audit trail as a reviewer reads it: the entries the supervisor sealed into signed
// segments (verified with the installation's audit public key, as `bulkhead audit verify` does) and
// those still in Redis after them, with one chain check over both, including the link between the
// newest segment and the first entry still in Redis. Without a public key (or a segment directory)
// it is the entries still in Redis alone, as before sealing existed.
import type { KeyObject } from 'node:crypto';
import { trailDirExists } from '../../kernel/audit/audit-access.ts';
import type { AuditEntry, AuditTrail, ChainCheck } from '../../kernel/audit/audit-trail.ts';
import type { VerifiedSegments } from '../../kernel/audit/segment-chain.ts';
import { tenantSegmentDir, walkSegmentFiles } from '../../kernel/audit/segment-files.ts';

/** An entry of the trail; `segment` names the sealed segment that holds it, absent while in Redis. */
export type TrailEntry = AuditEntry & { segment?: number };

export interface TrailCheck extends ChainCheck {
  /**
   * What of the trail is sealed (absent when segments are not read), and the newest segment the
   * supervisor shipped to the SIEM (absent when it ships none).
   */
  sealed?: { segments: number; entries: number; prunedThrough?: number; shippedThrough?: number };
}

export interface TrailView {
  /** Oldest first: the sealed entries, then those still in Redis. */
  entries: TrailEntry[];
  chain: TrailCheck;
}

export interface SealedSource {
  /** The installation's audit directory (BULKHEAD_AUDIT_DIR). */
  root: string;
  publicKey: KeyObject;
  /** Segments verified by earlier reads: unchanged ones are not parsed and checked again. */
  verified?: VerifiedSegments | undefined;
}

export interface ReadTrailOptions {
  trail: AuditTrail;
  tenant: string;
  sealed?: SealedSource | undefined;
  /**
   * The tenant record's createdAt the sealed segments must name (undefined: whichever they name):
   * a directory holding another tenant of the id's segments (offboarded, then put back) is then a
   * broken trail, whatever Redis holds.
   */
  createdAt?: string | undefined;
}

/** What a scan of the trail hands its reader besides the entries it visited. */
export interface TrailScan {
  chain: TrailCheck;
  /**
   * The entries still in Redis, all of them (few: the supervisor seals them every few minutes):
   * where the chain is broken, what a reader shows instead of the sealed entries it visited.
   */
  unsealed: AuditEntry[];
}

export interface ScanTrailOptions extends ReadTrailOptions {
  /**
   * Called with each entry of the trail, oldest first: a sealed segment's entries once that segment
   * verified, then (only when the whole trail verified) those still in Redis after the segments.
   * A promise it returns is awaited before the next entry (a reader writing to a slow client).
   */
  visit: (entry: TrailEntry) => void | Promise<void>;
}

/**
 * The whole trail, one sealed segment at a time: memory for one segment's text and entries (and the
 * reader's own), whatever the trail's length. Redis (its entries and head, one MULTI) is read before
 * the segments, so a seal in between can only make the two overlap, or the segments end past the
 * head read (entries appended and sealed meanwhile), never leave a gap: an overlap is counted once,
 * and anything else the two disagree on is a broken trail.
 */
export async function scanTrail(options: ScanTrailOptions): Promise<TrailScan> {
  const { trail, tenant, sealed, visit } = options;
  const { entries: unsealed, check: redisCheck } = await trail.read(tenant);
  const dir = sealed ? tenantSegmentDir(sealed.root, tenant) : undefined;
  // A directory this process may not look at is audit_unreadable (why, in its message), never read
  // as none: the entries still in Redis then passed for the whole trail.
  if (!sealed || !dir || !(await trailDirExists(dir))) {
    if (redisCheck.ok) await visitEach(unsealed, visit);
    return { chain: redisCheck, unsealed };
  }
  // Each segment read, checked as `bulkhead audit verify` checks it (unless its very bytes were
  // verified in that place before), and its entries visited once it verified, in number order.
  // The sealed entries' hashes by seq, kept only for those Redis still holds (the overlap below).
  const stillInRedis = new Map(unsealed.map((e) => [e.seq, e.hash]));
  const overlap = new Map<number, string>();
  // Whether Redis's head (as read above) is a sealed entry's: then entries appended and sealed
  // after that read make the segments end past it, which is not a gap.
  let headSealed = false;
  const segments = await walkSegmentFiles({
    dir,
    publicKey: sealed.publicKey,
    tenant,
    createdAt: options.createdAt,
    verified: sealed.verified,
    onVerified: async ({ parsed }) => {
      for (const entry of parsed.entries) {
        if (stillInRedis.has(entry.seq)) overlap.set(entry.seq, entry.hash);
        if (entry.hash === redisCheck.head) headSealed = true;
        const waited = visit({ ...entry, segment: parsed.header.segment });
        if (waited) await waited;
      }
    },
  });
  // Shown only when the record verifies: the supervisor neither ships nor prunes by one that does not.
  const shipped = segments.shipped;
  const shippedThrough = shipped && 'cursor' in shipped ? shipped.cursor.segment : undefined;
  const summary = {
    segments: segments.segments,
    entries: segments.entries,
    ...(segments.prunedThrough === undefined ? {} : { prunedThrough: segments.prunedThrough }),
    ...(shippedThrough === undefined ? {} : { shippedThrough }),
  };
  const broken = (problem: string): TrailScan => ({
    chain: { ok: false, entries: unsealed.length, head: redisCheck.head, problem, sealed: summary },
    unsealed,
  });
  if (!segments.ok) return broken(`sealed segments: ${segments.problem ?? 'do not verify'}`);
  // Entries in Redis already sealed (a seal between the two reads, or a pass that stopped before its
  // trim) are the sealed ones exactly, or the trail is broken; the rest continue where the newest
  // segment ended (or the trail is all sealed).
  const lastSeq = segments.lastSeq ?? 0;
  const differs = unsealed.find((e) => e.seq <= lastSeq && overlap.get(e.seq) !== e.hash);
  if (differs) return broken(`entry ${differs.seq} in Redis is not the sealed one`);
  const rest = unsealed.filter((e) => e.seq > lastSeq);
  const first = rest[0];
  if (first && (first.prev !== segments.head || first.seq !== lastSeq + 1))
    return broken(
      `entry ${first.seq} in Redis does not follow the sealed segments (they end at seq ${lastSeq})`,
    );
  if (!first && redisCheck.head !== segments.head && segments.segments > 0 && !headSealed)
    return broken('the head in Redis is not where the sealed segments end (entries missing)');
  if (!redisCheck.ok) return broken(redisCheck.problem ?? 'the entries in Redis do not verify');
  await visitEach(rest, visit);
  const entries = segments.entries + rest.length;
  // The newest entry visited is the head: the segments' when they end past what Redis held.
  const head = !first && headSealed ? segments.head : redisCheck.head;
  return { chain: { ok: true, entries, head, sealed: summary }, unsealed };
}

/** Visits each entry in order, awaiting the visit when it answers a promise (a slow client). */
async function visitEach(entries: readonly TrailEntry[], visit: ScanTrailOptions['visit']): Promise<void> {
  for (const entry of entries) {
    const waited = visit(entry);
    if (waited) await waited;
  }
}

/**
 * The whole trail in memory (the CLI's and the tests' reads; the console keeps only what it shows,
 * through scanTrail): on a broken chain, the entries still in Redis with the problem.
 */
export async function readTrail(options: ReadTrailOptions): Promise<TrailView> {
  const entries: TrailEntry[] = [];
  const { chain, unsealed } = await scanTrail({ ...options, visit: (entry) => void entries.push(entry) });
  return { entries: chain.ok ? entries : unsealed, chain };
}
