// The console's reads of a tenant's audit trail, each through scanTrail (one sealed segment at a
// time), keeping only what it answers with: a page of the newest matching entries, the latest
// errors, or an export written as the entries verify. A trail of any length costs the console one
// segment's memory and the page it shows, never the whole trail.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { AuditEntry } from '../kernel/audit/audit-trail.ts';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../kernel/tenant/tenant-spec.ts';
import {
  scanTrail,
  type ReadTrailOptions,
  type TrailCheck,
  type TrailEntry,
} from '../tenants/control-plane/audit-history.ts';
import { queryLimit } from './http/http-kit.ts';

/** Entries in one audit view unless the page asks for fewer or more (`limit`, up to the maximum). */
export const AUDIT_PAGE_DEFAULT = 500;
export const AUDIT_PAGE_MAX = 5_000;

/** Whose trail a view reads, and how: what scanTrail reads it by. */
export type AuditSource = ReadTrailOptions;

/** The newest `limit` items pushed, oldest first: a ring, so memory is the limit whatever is pushed. */
export class Newest<T> {
  readonly #limit: number;
  readonly #ring: T[] = [];
  #next = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(item: T): void {
    if (this.#ring.length < this.#limit) this.#ring.push(item);
    else this.#ring[this.#next] = item;
    this.#next = (this.#next + 1) % this.#limit;
  }

  get items(): T[] {
    if (this.#ring.length < this.#limit) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}

/** The audit trail's filters: each a substring (case-insensitive) or an exact decision. */
export function entryMatcher(query: URLSearchParams): (entry: AuditEntry) => boolean {
  const decision = query.get('decision');
  const has = (value: string | null, wanted: string | null): boolean =>
    !wanted || (value ?? '').toLowerCase().includes(wanted.toLowerCase());
  const tool = query.get('tool');
  const who = query.get('who');
  const text = query.get('text');
  return (e) =>
    (!decision || e.decision === decision) &&
    has(e.tool, tool) &&
    has(`${e.user ?? ''} ${e.agent ?? ''}`, who) &&
    has(e.reason, text);
}

export interface AuditPage {
  /** The newest `limit` entries that match the filters (below `before`, when given), oldest first. */
  entries: TrailEntry[];
  /** Entries in the trail shown (where the chain is broken: those still in Redis). */
  total: number;
  /** Of those, how many match the filters, before or not. */
  matched: number;
  /** Matching entries older than the oldest in `entries`: the next page's, with `before` its seq. */
  older: number;
  limit: number;
  chain: TrailCheck;
}

/** What the newest entries passing `keep` below `before` are, the trail's check, and the counts. */
async function newestOf(
  source: AuditSource,
  keep: (e: AuditEntry) => boolean,
  page: { limit: number; before?: number | undefined },
): Promise<AuditPage> {
  const { limit, before = Number.POSITIVE_INFINITY } = page;
  const newest = new Newest<TrailEntry>(limit);
  let total = 0;
  let matched = 0;
  let below = 0;
  const { chain, unsealed } = await scanTrail({
    ...source,
    visit: (entry) => {
      total += 1;
      if (!keep(entry)) return;
      matched += 1;
      if (entry.seq >= before) return;
      below += 1;
      newest.push(entry);
    },
  });
  if (chain.ok) {
    const entries = newest.items;
    return { entries, total, matched, older: below - entries.length, limit, chain };
  }
  // A broken trail: what Redis still holds, as the whole-trail read shows it (audit-history.ts).
  const kept = unsealed.filter(keep);
  const inRange = kept.filter((e) => e.seq < before);
  const entries = inRange.slice(-limit);
  return {
    entries,
    total: unsealed.length,
    matched: kept.length,
    older: inRange.length - entries.length,
    limit,
    chain,
  };
}

/** `before`: a seq; only entries older than it (the next page of an audit view). */
function pageBefore(query: URLSearchParams): number | undefined {
  const raw = query.get('before');
  if (raw === null) return undefined;
  const before = Number(raw);
  if (!Number.isSafeInteger(before) || before < 1)
    throw new BulkheadError('invalid_input', 'before must be an entry seq (a whole number from 1)');
  return before;
}

export async function auditPage(source: AuditSource, query: URLSearchParams): Promise<AuditPage> {
  return newestOf(source, entryMatcher(query), {
    limit: queryLimit(query, { max: AUDIT_PAGE_MAX, fallback: AUDIT_PAGE_DEFAULT }),
    before: pageBefore(query),
  });
}

/** The latest refusals and failed calls, newest first. */
export async function recentErrors(
  source: AuditSource,
  count: number,
): Promise<{ entries: TrailEntry[]; chain: TrailCheck }> {
  const page = await newestOf(source, (e) => e.decision === 'deny' || e.status === 'error', {
    limit: count,
  });
  return { entries: page.entries.reverse(), chain: page.chain };
}

/**
 * Until the response drains or closes (true), or `ms` pass first (false); the other listeners
 * removed.
 */
async function drainOrClose(res: ServerResponse, ms: number): Promise<boolean> {
  const done = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      once(res, 'drain', { signal: done.signal }).then(() => true),
      once(res, 'close', { signal: done.signal }).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms)))),
    ]);
  } finally {
    clearTimeout(timer);
    done.abort();
  }
}

/**
 * `text` as a header value: a broken trail's problem can quote what a changed file holds (a key
 * id), and a line break or a character beyond Latin-1 would make Node refuse the whole answer.
 */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/** Thrown out of an export's scan when its client went away: nothing more to read or write. */
const CLIENT_GONE = new Error('the client of the export went away');

/** How long an export may take, and what must be read before it starts, under the same deadline. */
export interface ExportLimits {
  /** BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS. */
  timeoutMs: number;
  /**
   * A read the export waits for first, the tenant's record: a Redis that hangs there is timed too,
   * and the segments exported must name the record's createdAt.
   */
  admit?: () => Promise<Pick<TenantRecord, 'createdAt'>>;
}

/**
 * The matching entries as JSON lines, with the whole trail's check in a header. Two passes: the
 * first checks the trail (for the header) and holds nothing; the second checks it again and writes
 * each entry as its segment verifies, up to the first pass's head, waiting for the client when it
 * reads slower. A trail that changed between the passes other than by growing (a segment edited,
 * pruned or gone) ends the answer without its last chunk, so the download fails rather than
 * looking whole, and so does a read of the second pass that fails.
 *
 * The whole export is under its deadline, reads included: a Redis that stops answering (frozen,
 * its connection still open, so no client error ever comes) would hold the request, and the second
 * pass its segment in memory, for good. Past the deadline, an export whose header is not out is
 * refused state_unavailable (HTTP 503); one whose header is out is cut, and the error is thrown for
 * the console's log. A read that answers later finds the deadline passed and writes nothing.
 */
export async function exportTrail(
  source: AuditSource,
  query: URLSearchParams,
  res: ServerResponse,
  limits: ExportLimits,
): Promise<void> {
  const deadline = Date.now() + limits.timeoutMs;
  const expired = new Error(
    `the audit export of ${source.tenant} ran past its ${limits.timeoutMs / 1000} s (BULKHEAD_CONSOLE_EXPORT_TIMEOUT_MS) and was cut`,
  );
  const work = (async () => {
    const record = await limits.admit?.();
    const bound = record ? { ...source, createdAt: record.createdAt } : source;
    await writeExport(bound, query, res, { deadline, expired });
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired), limits.timeoutMs);
  });
  try {
    await Promise.race([work, timeUp]);
  } catch (error) {
    if (error !== expired) throw error;
    // The work left behind (a read Redis has not answered) ends on its own: nothing waits for it.
    work.catch(() => undefined);
    if (!res.headersSent) throw new BulkheadError('state_unavailable', expired.message);
    res.destroy(expired);
    throw expired;
  } finally {
    clearTimeout(timer);
  }
}

async function writeExport(
  source: AuditSource,
  query: URLSearchParams,
  res: ServerResponse,
  { deadline, expired }: { deadline: number; expired: Error },
): Promise<void> {
  const keep = entryMatcher(query);
  let lastSeq = 0;
  const first = await scanTrail({ ...source, visit: (entry) => void (lastSeq = entry.seq) });
  // A first pass that answers after the deadline (the export already refused) writes nothing.
  if (Date.now() >= deadline) throw expired;
  res.writeHead(200, {
    'content-type': 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="${source.tenant}-audit.jsonl"`,
    'cache-control': 'no-store',
    // The chain check of the whole trail, so an export of a filtered part still says whether the
    // trail it came from was intact.
    'x-audit-chain': first.chain.ok
      ? `intact; ${first.chain.entries} entries; head ${first.chain.head}`
      : `broken; ${headerSafe(first.chain.problem ?? '')}`,
  });
  if (!first.chain.ok) {
    res.end(
      first.unsealed
        .filter(keep)
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    );
    return;
  }
  let head: string | undefined;
  let second: Awaited<ReturnType<typeof scanTrail>>;
  try {
    second = await scanTrail({
      ...source,
      visit: async (entry) => {
        if (Date.now() >= deadline) throw expired;
        if (entry.seq > lastSeq) return;
        if (entry.seq === lastSeq) head = entry.hash;
        if (!keep(entry) || res.write(`${JSON.stringify(entry)}\n`)) return;
        // Wait for a slow client, or stop for one that left (no 'drain' ever comes then); one that
        // stops reading, or reads a few bytes a minute, is cut at the deadline.
        if (!res.destroyed && !(await drainOrClose(res, deadline - Date.now()))) throw expired;
        if (res.destroyed) throw CLIENT_GONE;
      },
    });
  } catch (error) {
    if (error === CLIENT_GONE) return;
    // The header is out: a read that fails now (Redis, a segment file gone) or the deadline must
    // not end the answer as if whole, whoever catches the error; the download fails instead.
    res.destroy(error as Error);
    throw error;
  }
  const sealedAlike = second.chain.sealed?.prunedThrough === first.chain.sealed?.prunedThrough;
  if (!second.chain.ok || !sealedAlike || (lastSeq > 0 && head !== first.chain.head)) {
    res.destroy(new Error(`the audit trail of ${source.tenant} changed during its export`));
    return;
  }
  res.end();
}
