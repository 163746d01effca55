// A tenant's sealed segments as one chain, checked offline: the signed pruning marker (if retention
// removed the oldest segments) says where the chain starts, then every segment must be the next one
// (number, previous-segment digest, entry seq and hash), signed by the installation's key. Pure: the
// caller reads the files (segment-files.ts).
import { hash, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { MAX_AUDIT_DAYS } from '../tenant/tenant-spec.ts';
import { GENESIS_HASH } from './audit-trail.ts';
import {
  checkSegment,
  FIRST_SEGMENT_PREV,
  keyId,
  parseSegment,
  parseVerifiedSegment,
  SEGMENT_FORMAT,
  type ParsedSegment,
  type SegmentHeader,
  type SegmentLink,
} from './audit-segment.ts';
import { signMarker, verifiedMarker } from './signed-marker.ts';

/**
 * Written when retention removes the oldest segments: "segments up to `through_segment` were removed
 * on purpose; the chain goes on from its digest and last entry". Signed like a segment, so pruning
 * is told apart from a removal.
 */
export const PruneMarkerSchema = z.strictObject({
  type: z.literal('pruned'),
  format: z.literal(SEGMENT_FORMAT),
  tenant: z.string().min(1),
  /** The pruned segments' tenant_created_at (absent when they named none). */
  tenant_created_at: z.string().optional(),
  through_segment: z.number().int().min(1),
  digest: z.string().length(64),
  last_seq: z.number().int().min(1),
  last_hash: z.string().length(64),
  last_at: z.string(),
  pruned_at: z.string(),
  key_id: z.string(),
  signature: z.string(),
});
export type PruneMarker = z.infer<typeof PruneMarkerSchema>;

export function signPruneMarker(
  marker: Omit<PruneMarker, 'key_id' | 'signature'>,
  privateKey: KeyObject,
): PruneMarker {
  return signMarker('pruned', marker, privateKey);
}

/** Where a tenant's chain of segments starts: after the pruned ones, or at the very beginning. */
export function chainStart(marker: PruneMarker | undefined): SegmentLink {
  if (!marker)
    return { segment: 1, prevSegmentDigest: FIRST_SEGMENT_PREV, chain: { prev: GENESIS_HASH, seq: 1 } };
  return {
    segment: marker.through_segment + 1,
    prevSegmentDigest: marker.digest,
    chain: { prev: marker.last_hash, seq: marker.last_seq + 1 },
  };
}

export interface SegmentFile {
  /** The file name (segment-NNNNNNNN.jsonl). */
  name: string;
  number: number;
  text: string;
}

export interface SegmentsCheck {
  ok: boolean;
  segments: number;
  entries: number;
  /** The first and last segment checked, the last entry's seq and hash (the head). */
  firstSegment?: number;
  lastSegment?: number;
  lastSeq?: number;
  head: string;
  /** The digest of the last segment checked: what the next one must name. */
  lastDigest: string;
  /** Segments up to this one were removed by retention (a signed marker says so). */
  prunedThrough?: number;
  /**
   * The tenant the segments and markers checked belong to: what a directory given as is (`verify
   * --dir`) holds, which may be another tenant's than its name says.
   */
  tenant?: string;
  /**
   * The tenant record's createdAt the segments (or the pruning marker) name: which incarnation of the
   * id they are of. Absent when none names it (sealed before segments did).
   */
  createdAt?: string;
  /** Segments checked that name no createdAt (sealed before segments did): not bound to one. */
  unbound?: number;
  /** The tenant was offboarded then (its signed marker, which the trail ends where it says). */
  offboardedAt?: string;
  /** The first problem found, naming the file, when not ok. */
  problem?: string;
}

/**
 * Segments already verified, by their exact bytes and the link they had to continue: a reader that
 * checks the same trail again and again (the console, on every view) skips the parse and the checks
 * of a segment whose bytes and expected place are those verified before. A changed byte, a segment
 * moved, another key or tenant: another key, so it is checked again. Bounded by the entries held.
 *
 * Readers go through a trail in segment order, so a trail larger than the bound would evict, segment
 * by segment, exactly what the next read needs first (none would ever be found). So when it is full
 * a segment is admitted only in place of segments no read has found for `staleMs` (a pruned
 * segment, a tenant nobody looks at); otherwise it is not kept, and what is held keeps being found.
 *
 * Beyond the entries it holds, it remembers the keys of up to `maxVerdicts` segments that verified
 * (a few hundred bytes each): such a segment, met again, is read without its checks
 * (parseVerifiedSegment), which a trail longer than the entries bound needs on every view.
 */
export class VerifiedSegments {
  readonly #maxEntries: number;
  readonly #staleMs: number;
  readonly #maxVerdicts: number;
  readonly #now: () => number;
  readonly #byKey = new Map<string, { parsed: ParsedSegment; usedAt: number }>();
  /** Keys of segments that verified, oldest first (a Set keeps insertion order). */
  readonly #verdicts = new Set<string>();
  #entries = 0;

  constructor(
    options: { maxEntries?: number; staleMs?: number; maxVerdicts?: number; now?: () => number } = {},
  ) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#staleMs = options.staleMs ?? 10 * 60_000;
    this.#maxVerdicts = options.maxVerdicts ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  key(text: string, link: SegmentLink, tenant: string | undefined, publicKey: KeyObject): string {
    const place = `${link.segment}:${link.prevSegmentDigest}:${link.chain.prev}:${link.chain.seq}`;
    return `${hash('sha256', text, 'hex')}|${place}|${tenant ?? ''}|${keyId(publicKey)}`;
  }

  /** Segments held; how many reads found a segment's entries, and how many only its verdict. */
  get size(): number {
    return this.#byKey.size;
  }
  hits = 0;
  readAgain = 0;

  get(key: string): ParsedSegment | undefined {
    const held = this.#byKey.get(key);
    if (!held) return undefined;
    held.usedAt = this.#now();
    this.hits += 1;
    return held.parsed;
  }

  /** Whether the segment of this key verified before, its entries held or not. */
  verifiedBefore(key: string): boolean {
    if (!this.#verdicts.has(key)) return false;
    this.readAgain += 1;
    return true;
  }

  /** The segment of this key verified: its verdict is kept, and its entries if they fit. */
  set(key: string, parsed: ParsedSegment): void {
    this.#verdicts.delete(key);
    this.#verdicts.add(key);
    if (this.#verdicts.size > this.#maxVerdicts) this.#verdicts.delete(this.#verdicts.values().next().value!);
    const size = parsed.entries.length;
    if (size > this.#maxEntries || this.#byKey.has(key)) return;
    const staleBefore = this.#now() - this.#staleMs;
    for (const [old, held] of this.#byKey) {
      if (this.#entries + size <= this.#maxEntries) break;
      if (held.usedAt >= staleBefore) continue;
      this.#byKey.delete(old);
      this.#entries -= held.parsed.entries.length;
    }
    if (this.#entries + size > this.#maxEntries) return;
    this.#byKey.set(key, { parsed, usedAt: this.#now() });
    this.#entries += size;
  }
}

export interface CheckSegmentsInput {
  /** The segment files, in any order. */
  files: readonly SegmentFile[];
  /** The pruning marker's text, if the directory holds one. */
  marker?: string | undefined;
  publicKey: KeyObject;
  /** The tenant every segment must belong to (undefined: the first segment's). */
  tenant?: string | undefined;
  /**
   * The createdAt of the tenant record the segments must be of (its incarnation); undefined: the
   * first that names one, which every later one must name too.
   */
  createdAt?: string | undefined;
  /**
   * Where the files must start, instead of the trail's start (or the marker's): a reader that has
   * checked the chain up to there before (the audit shipper, from its cursor).
   */
  from?: SegmentLink | undefined;
  /** Called with each segment once it verified, in order (a reader's entries without a second parse). */
  onVerified?: ((parsed: ParsedSegment) => void) | undefined;
  /** Segments verified before, skipped when their bytes and place are the same. */
  verified?: VerifiedSegments | undefined;
}

function readMarker(text: string, publicKey: KeyObject): PruneMarker | string {
  return verifiedMarker('pruned', PruneMarkerSchema, text, publicKey, 'pruning marker');
}

/**
 * A chain of segments checked one file at a time, in number order: what a reader that holds one
 * segment at a time uses (`bulkhead audit verify|export`, the audit shipper), and what
 * checkSegments runs over the files it is given. `result` is the check so far; once it is not ok,
 * every further file is ignored.
 */
export class SegmentChainCheck {
  readonly #input: Omit<CheckSegmentsInput, 'files' | 'onVerified'>;
  readonly #marker: PruneMarker | undefined;
  #tenant: string | undefined;
  #link: SegmentLink;
  #check: SegmentsCheck;

  constructor(input: Omit<CheckSegmentsInput, 'files' | 'onVerified'>) {
    this.#input = input;
    const read = input.marker === undefined ? undefined : readMarker(input.marker, input.publicKey);
    this.#marker = typeof read === 'string' ? undefined : read;
    this.#tenant = input.tenant ?? this.#marker?.tenant;
    this.#link = input.from ?? chainStart(this.#marker);
    const marker = this.#marker;
    this.#check = {
      ok: true,
      segments: 0,
      entries: 0,
      head: this.#link.chain.prev,
      lastDigest: this.#link.prevSegmentDigest,
      ...(marker ? { prunedThrough: marker.through_segment, lastSeq: marker.last_seq } : {}),
      ...(input.from ? { lastSeq: input.from.chain.seq - 1 } : {}),
      ...(this.#tenant === undefined ? {} : { tenant: this.#tenant }),
    };
    if (typeof read === 'string')
      this.#check = {
        ok: false,
        segments: 0,
        entries: 0,
        head: GENESIS_HASH,
        lastDigest: FIRST_SEGMENT_PREV,
        problem: read,
      };
    else if (marker && this.#tenant !== marker.tenant)
      this.#fail(`pruning marker belongs to tenant "${marker.tenant}"`);
    else if (marker?.tenant_created_at !== undefined) this.#bind(marker.tenant_created_at, 'pruning marker');
  }

  /**
   * Holds what a segment (or the pruning marker) says of its tenant's incarnation against the one
   * expected or named before: segments swapped in from an earlier tenant of the same id (offboarded,
   * then onboarded again) are signed by the same key and chain alike, and only this tells them apart.
   * One that names none was sealed before segments did: counted, and none may follow one that names it.
   */
  #bind(createdAt: string | undefined, what: string): undefined {
    const known = this.#check.createdAt ?? this.#input.createdAt;
    if (createdAt === undefined) {
      if (this.#check.createdAt !== undefined)
        return this.#fail(
          `${what}: names no tenant creation, after segments of the tenant created ${this.#check.createdAt}`,
        );
      this.#check.unbound = (this.#check.unbound ?? 0) + 1;
      return undefined;
    }
    if (known !== undefined && createdAt !== known)
      return this.#fail(
        `${what}: of the tenant created ${createdAt}, not of the one created ${known} (another tenant of the same id, offboarded and onboarded again)`,
      );
    this.#check.createdAt = createdAt;
    return undefined;
  }

  get result(): SegmentsCheck {
    return this.#check;
  }

  #fail(problem: string): undefined {
    this.#check = { ...this.#check, ok: false, problem };
    return undefined;
  }

  /**
   * Checks the next file: its parsed segment when it verified; undefined when the pruning marker
   * covers it (left by a pruning pass that stopped before removing it) or the chain is broken.
   */
  next(file: SegmentFile): ParsedSegment | undefined {
    const marker = this.#marker;
    const link = this.#link;
    const { publicKey, verified } = this.#input;
    if (!this.#check.ok) return undefined;
    if (marker && file.number <= marker.through_segment) return undefined;
    if (file.number < link.segment) return this.#fail(`${file.name}: duplicate segment number`);
    if (file.number > link.segment)
      return this.#fail(
        `segment ${link.segment} missing: ${file.name} follows ${describeBefore(link, marker)}`,
      );
    const key = verified?.key(file.text, link, this.#tenant, publicKey);
    let parsed = key === undefined ? undefined : verified?.get(key);
    // These very bytes verified in this place before: read again without the checks, and offered
    // to the entries held (room may have been made since).
    if (!parsed && key !== undefined && verified?.verifiedBefore(key)) {
      parsed = parseVerifiedSegment(file.text);
      verified.set(key, parsed);
    }
    if (!parsed) {
      try {
        parsed = parseSegment(file.text);
      } catch (error) {
        return this.#fail(`${file.name}: ${(error as Error).message}`);
      }
      const problem = checkSegment(parsed, { ...link, tenant: this.#tenant }, publicKey);
      if (problem) return this.#fail(`${file.name}: ${problem}`);
      if (key !== undefined) verified?.set(key, parsed);
    }
    this.#bind(parsed.header.tenant_created_at, file.name);
    if (!this.#check.ok) return undefined;
    this.#tenant ??= parsed.header.tenant;
    const check = this.#check;
    check.tenant = this.#tenant;
    check.segments += 1;
    check.entries += parsed.entries.length;
    check.firstSegment ??= parsed.header.segment;
    check.lastSegment = parsed.header.segment;
    check.lastSeq = parsed.header.last_seq;
    check.head = parsed.footer.last_hash;
    check.lastDigest = parsed.footer.digest;
    this.#link = {
      segment: link.segment + 1,
      prevSegmentDigest: parsed.footer.digest,
      chain: { prev: parsed.footer.last_hash, seq: parsed.header.last_seq + 1 },
    };
    return parsed;
  }
}

export function checkSegments(input: CheckSegmentsInput): SegmentsCheck {
  const chain = new SegmentChainCheck(input);
  for (const file of [...input.files].sort((a, b) => a.number - b.number)) {
    const parsed = chain.next(file);
    if (!chain.result.ok) break;
    if (parsed) input.onVerified?.(parsed);
  }
  return chain.result;
}

function describeBefore(link: SegmentLink, marker: PruneMarker | undefined): string {
  if (link.segment === 1) return 'the start of the trail';
  if (marker && link.segment === marker.through_segment + 1)
    return `the pruning marker (segments up to ${marker.through_segment} pruned)`;
  return `segment ${link.segment - 1}`;
}

/**
 * Where `days` of retention end, counted back from `now`: a segment retained since before it is
 * past it. Days outside the bound of a tenant's record and an offboarding marker (1 to
 * MAX_AUDIT_DAYS) are refused: past about 100 million days the cutoff is no date at all, every
 * comparison with it false, and nothing was ever pruned, saying nothing.
 */
export function retentionCutoff(now: Date, days: number): Date {
  if (!Number.isInteger(days) || days < 1 || days > MAX_AUDIT_DAYS)
    throw new BulkheadError(
      'invalid_input',
      `an audit retention of ${days} days: it must be a whole number of days from 1 to ${MAX_AUDIT_DAYS}`,
    );
  return new Date(now.getTime() - days * 86_400_000);
}

/**
 * When a segment's retention starts: the later of its newest entry's `at` (the router's clock) and
 * its `sealed_at` (the sealer's), both signed. A router clock set years behind stamps fresh entries
 * as old: counting from the sealing too only ever keeps a segment longer. NaN (a time that is no
 * date) compares false with any cutoff: the segment is kept.
 */
export function retainedSince(header: Pick<SegmentHeader, 'last_at' | 'sealed_at'>): number {
  return Math.max(Date.parse(header.last_at), Date.parse(header.sealed_at));
}

/**
 * The segments retention may remove: the oldest ones, in order, retained since before `cutoff`
 * (retainedSince), stopping at the first one that is not (a segment is removed whole or not at all,
 * and never past one still within retention).
 */
export function prunable<T extends { header: Pick<SegmentHeader, 'last_at' | 'sealed_at'> }>(
  segments: readonly T[],
  cutoff: Date,
): T[] {
  const out: T[] = [];
  for (const segment of segments) {
    if (!(retainedSince(segment.header) < cutoff.getTime())) break;
    out.push(segment);
  }
  return out;
}
