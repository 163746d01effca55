// Moves each tenant's audit entries out of Redis into signed segment files (kernel/audit/), then
// trims from the stream exactly the entries sealed, and applies the tenant's retention to the
// segments. It runs in the supervisor, on its scheduler: one long-lived process per installation
// (routers are many and face the network), and the only one that holds the signing key. A sealer
// that crashes between writing a segment and trimming Redis trims those entries on its next pass
// (their seq is at or below the newest segment's). With a shipper (audit-shipper.ts), each pass
// ships the new segments to the SIEM's collector between sealing and pruning, and retention removes
// only segments already shipped. Offboarding (the supervisor's purge job, while the tenant's record
// still exists) seals what Redis still holds, signs an offboarding marker with the record's
// retention, ends the Redis trail and moves the directory aside; every pass then ships and prunes
// those directories by their marker, and removes each once its last segment is pruned.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { verifyChain, type AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { buildSegment, SEGMENT_FORMAT } from '../../kernel/audit/audit-segment.ts';
import {
  OFFBOARD_MARKER_FILE,
  offboardedDirName,
  signOffboardMarker,
} from '../../kernel/audit/offboard-marker.ts';
import {
  prunable,
  retainedSince,
  retentionCutoff,
  SegmentChainCheck,
  signPruneMarker,
} from '../../kernel/audit/segment-chain.ts';
import {
  listSegments,
  offboardedDirs,
  readOffboardMarker,
  replaceFile,
  readSegmentText,
  nextLink,
  readMarkerText,
  readShipCursor,
  removeSegmentFile,
  SHIP_CURSOR_FILE,
  tenantSegmentDir,
  writeMarker,
  writeSegmentFile,
} from '../../kernel/audit/segment-files.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { KeyedLock } from '../../kernel/process/keyed-lock.ts';
import type { AuditShipper } from './audit-shipper.ts';
import { firstPassHousekeeping } from './first-pass.ts';

export interface AuditSealerOptions {
  trail: AuditTrail;
  /** The tenants to seal, with their retention (the registry's list). */
  tenants: { list(): Promise<TenantRecord[]> };
  /** The installation's audit directory: one sub-directory per tenant. */
  dir: string;
  privateKey: KeyObject;
  /** Entries per segment at most. */
  maxEntries: number;
  /** The group that may read the segments (auditors); none: the supervisor alone (segment-files.ts). */
  readerGid?: number | undefined;
  logger: Logger;
  /** Ships sealed segments to a collector (BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT); none: they stay on disk. */
  shipper?: AuditShipper | undefined;
  now?: () => Date;
}

export interface SealReport {
  segments: number;
  entries: number;
}

export class AuditSealer {
  private readonly options: AuditSealerOptions;
  private readonly now: () => Date;
  /** What retention checks the files it prunes against: they are the sealer's only if they verify. */
  private readonly publicKey: KeyObject;
  /** A pass and an offboarding of one tenant never seal at once (both would write its next segment). */
  private readonly lock = new KeyedLock();
  /** Whether the first pass did its housekeeping (first-pass.ts). */
  private swept = false;

  constructor(options: AuditSealerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.publicKey = createPublicKey(options.privateKey);
  }

  /**
   * One pass over every tenant: seal, ship, then prune (no further than what was shipped). A failure
   * for one tenant does not stop the others; a tenant whose shipping failed is not pruned this pass.
   */
  async runOnce(): Promise<void> {
    const { shipper } = this.options;
    if (!this.swept) {
      this.swept = true;
      const { dir, logger, readerGid } = this.options;
      await firstPassHousekeeping({ dir, logger, readerGid, now: this.now() });
    }
    let behind = 0;
    for (const tenant of await this.options.tenants.list()) {
      try {
        // Under the tenant's lock: an offboarding moves the directory away between none of these.
        await this.lock.run(tenant.id, async () => {
          await this.sealLocked(tenant);
          if (shipper) behind += (await shipper.ship(tenant.id)).behind;
          await this.prune(tenant.id, tenant.retention.auditDays, undefined, tenant.createdAt);
        });
      } catch (error) {
        this.options.logger.error({ tenant: tenant.id, err: error }, 'audit sealing failed');
      }
    }
    for (const name of await offboardedDirs(this.options.dir)) {
      try {
        behind += await this.retire(join(this.options.dir, name));
      } catch (error) {
        this.options.logger.error({ dir: name, err: error }, 'offboarded audit retention failed');
      }
    }
    shipper?.passDone(behind);
  }

  /**
   * An offboarded tenant's directory: shipped and pruned by its marker's retention as a live
   * tenant's by its record's, then removed once no segment is left. Returns the segments unshipped.
   */
  private async retire(dir: string): Promise<number> {
    // Its retention decides when the whole directory goes: a marker edited at rest (a shorter
    // audit_days) must not get it removed early.
    const marker = await readOffboardMarker(dir, this.publicKey);
    // A directory moved aside by hand, not by offboarding: not the sealer's to remove.
    if (marker === undefined) return 0;
    if (typeof marker === 'string') throw new BulkheadError('audit_verification_failed', `${dir}: ${marker}`);
    const shipped = await this.options.shipper?.ship(marker.tenant, dir);
    await this.prune(marker.tenant, marker.audit_days, dir, marker.tenant_created_at);
    if ((await listSegments(dir)).length > 0) return shipped?.behind ?? 0;
    await rm(dir, { recursive: true });
    this.options.logger.info(
      { tenant: marker.tenant, offboardedAt: marker.offboarded_at },
      'offboarded audit trail past its retention: removed',
    );
    return 0;
  }

  /**
   * At offboarding, before the tenant's record is deleted: seals what Redis still holds, then
   * writes the signed marker (the record's retention, where the trail ends), ends the Redis trail
   * and moves the directory to <tenant>.offboarded-<time>. Returns that directory; undefined when
   * nothing was ever sealed (nothing to retain). Run again (an offboarding that failed later), it
   * finds nothing left to seal and no directory, and does nothing.
   */
  async offboard(tenant: TenantRecord): Promise<string | undefined> {
    return this.lock.run(tenant.id, async () => {
      const { logger } = this.options;
      const dir = tenantSegmentDir(this.options.dir, tenant.id);
      await this.sealLocked(tenant);
      const link = await nextLink(dir);
      const last = { segment: link.segment - 1, seq: link.chain.seq - 1, hash: link.chain.prev };
      if (last.segment === 0) return undefined;
      // Another tenant's of the same id in this one's place: the marker would sign them as its trail.
      if (link.createdAt !== undefined && link.createdAt !== tenant.createdAt)
        throw new BulkheadError(
          'audit_verification_failed',
          `${dir}: the segments are of the tenant created ${link.createdAt}, not of the one created ${tenant.createdAt}; not offboarded`,
        );
      // The trail in Redis goes on from where the segments end (or began anew: Redis lost its data).
      // A gap means sealed segments were removed from the directory, and the marker would sign the
      // shorter trail as the whole of it, which verify then accepts.
      const unsealed = await this.options.trail.firstUnsealed(tenant.id);
      if (unsealed > last.seq + 1)
        throw new BulkheadError(
          'audit_verification_failed',
          `${dir}: the segments end at seq ${last.seq}, the trail in Redis goes on from seq ${unsealed}: sealed segments are missing; not offboarded`,
        );
      const at = this.now();
      const marker = signOffboardMarker(
        {
          type: 'offboarded',
          format: SEGMENT_FORMAT,
          tenant: tenant.id,
          tenant_created_at: tenant.createdAt,
          offboarded_at: at.toISOString(),
          audit_days: tenant.retention.auditDays,
          last_segment: last.segment,
          last_seq: last.seq,
          last_hash: last.hash,
        },
        this.options.privateKey,
      );
      await replaceFile(dir, OFFBOARD_MARKER_FILE, `${JSON.stringify(marker)}\n`, {
        readerGid: this.options.readerGid,
      });
      // Left in Redis (a chain that does not continue the segments, or an entry appended since):
      // it keeps the expiry offboarding gives it (AuditTrail.expireAfter).
      if (!(await this.options.trail.close(tenant.id, last)))
        logger.warn({ tenant: tenant.id }, 'offboarded tenant: entries left in its Redis audit trail');
      const moved = join(this.options.dir, offboardedDirName(tenant.id, at));
      await rename(dir, moved);
      logger.info({ tenant: tenant.id, dir: moved, through: last.segment }, 'offboarded audit trail kept');
      return moved;
    });
  }

  /** Seals every entry of the registered tenant `id` still in Redis, `maxEntries` per segment. */
  async seal(id: string): Promise<SealReport> {
    const tenant = (await this.options.tenants.list()).find((record) => record.id === id);
    if (!tenant) throw new BulkheadError('tenant_not_found', `tenant "${id}" is not registered: not sealed`);
    return this.lock.run(id, () => this.sealLocked(tenant));
  }

  private async sealLocked(record: Pick<TenantRecord, 'id' | 'createdAt'>): Promise<SealReport> {
    const { trail, maxEntries, privateKey, logger } = this.options;
    const tenant = record.id;
    const dir = tenantSegmentDir(this.options.dir, tenant);
    const report: SealReport = { segments: 0, entries: 0 };
    for (;;) {
      const link = await nextLink(dir);
      // Segments of an earlier tenant of the same id put in this one's place: continuing them would
      // sign its entries under the other's trail (its chain in Redis would not continue them anyway).
      if (link.createdAt !== undefined && link.createdAt !== record.createdAt) {
        logger.error(
          { tenant, segmentsOf: link.createdAt, createdAt: record.createdAt },
          'audit segments on disk are of another tenant of the same id: not sealed',
        );
        return report;
      }
      const stored = await trail.stored(tenant, maxEntries);
      const done = stored.filter((s) => s.entry.seq < link.chain.seq);
      const fresh = stored.filter((s) => s.entry.seq >= link.chain.seq);
      const entries = fresh.map((s) => s.entry);
      // Entries at or below the newest segment's last seq are trimmed only if they end where it
      // ends (sealed by a pass that stopped before trimming); otherwise the Redis chain is not the
      // one on disk (e.g. Redis lost its data and a new chain began): nothing is trimmed or sealed.
      const problem =
        done.length > 0 && done.at(-1)?.entry.hash !== link.chain.prev
          ? `entries up to seq ${done.at(-1)?.entry.seq ?? 0} in Redis are not the sealed ones`
          : verifyChain(entries, undefined, link.chain).problem;
      if (problem !== undefined) {
        // Sealing a broken chain would sign it: leave it in Redis for an investigation.
        logger.error({ tenant, problem }, 'audit chain in Redis does not continue the sealed segments');
        return report;
      }
      await trail.trim(
        tenant,
        done.map((s) => s.id),
      );
      if (fresh.length === 0) {
        if (stored.length < maxEntries) return report;
        continue;
      }
      const built = buildSegment({
        tenant,
        tenantCreatedAt: record.createdAt,
        segment: link.segment,
        prevSegmentDigest: link.prevSegmentDigest,
        entries,
        privateKey,
        sealedAt: this.now(),
      });
      await writeSegmentFile(dir, link.segment, built.text, { readerGid: this.options.readerGid });
      await trail.trim(
        tenant,
        fresh.map((s) => s.id),
      );
      report.segments += 1;
      report.entries += entries.length;
      logger.info({ tenant, segment: link.segment, entries: entries.length }, 'audit segment sealed');
      if (stored.length < maxEntries) return report;
    }
  }

  /**
   * Removes the oldest segments entirely past `days` of retention (counted from the later of their
   * newest entry and their sealing: retainedSince): first a signed marker naming the last one
   * removed (so verify tells pruning from tampering), then the files; when shipping is on,
   * none past the last one the shipped record says the collector accepted. Segments (or a record)
   * of another tenant of the same id than the one created at `createdAt` are not pruned: an error.
   * Returns how many.
   */
  async prune(
    tenant: string,
    days: number,
    dir = tenantSegmentDir(this.options.dir, tenant),
    createdAt?: string,
  ): Promise<number> {
    const shipped = await this.shippedThrough(tenant, dir);
    // The files are checked as verify checks them before any is removed: the marker signed below
    // makes their removal pass as retention, so a header set back to look old, or a pruning marker
    // written by hand, must never be signed over (verify would then find nothing wrong).
    const chain = new SegmentChainCheck({
      marker: await readMarkerText(dir),
      publicKey: this.publicKey,
      tenant,
      createdAt,
    });
    if (!chain.result.ok)
      throw new BulkheadError('audit_verification_failed', `${dir}: ${chain.result.problem ?? ''}`);
    const pruned = chain.result.prunedThrough ?? 0;
    const all = await listSegments(dir);
    // Left by a pass that wrote its marker and stopped before removing them.
    for (const file of all.filter((f) => f.number <= pruned)) await removeSegmentFile(dir, file.name);
    const files = all.filter((f) => f.number > pruned);
    const described = [];
    // Headers are read only as far as the oldest segment still within retention.
    const cutoff = retentionCutoff(this.now(), days);
    // Only each segment's header and footer are kept: a retention shortened by months makes many
    // segments prunable at once, and their entries are not held together.
    for (const file of files) {
      const parsed = chain.next({ ...file, text: await readSegmentText(dir, file.name) });
      if (!parsed) {
        // It and every later segment stay, for verify to name.
        this.options.logger.error(
          { tenant, problem: chain.result.problem },
          'audit segment not pruned: it does not verify',
        );
        break;
      }
      const { header, footer } = parsed;
      described.push({ ...file, header, footer });
      if (!(retainedSince(header) < cutoff.getTime())) break;
    }
    const gone = prunable(described, cutoff).filter((file) => file.number <= shipped.segment);
    // The record is bound to the chain as well as signed: the segment it names, when read here,
    // must be the one it was written for (a record carried over from another directory is not).
    const named = described.find((file) => file.number === shipped.segment);
    if (named && named.footer.digest !== shipped.digest)
      throw this.unshipped(tenant, dir, `it names segment ${shipped.segment} with another digest`);
    if (shipped.segment !== Infinity && (all.at(-1)?.number ?? pruned) < shipped.segment)
      throw this.unshipped(tenant, dir, `it names segment ${shipped.segment}, past the newest one`);
    const of = chain.result.createdAt ?? createdAt;
    if (shipped.tenant_created_at !== undefined && of !== undefined && shipped.tenant_created_at !== of)
      throw this.unshipped(tenant, dir, `it is of the tenant created ${shipped.tenant_created_at}`);
    const last = gone.at(-1);
    if (!last) return 0;
    const { header, footer } = last;
    await writeMarker(
      dir,
      signPruneMarker(
        {
          type: 'pruned',
          format: header.format,
          tenant,
          ...(header.tenant_created_at === undefined ? {} : { tenant_created_at: header.tenant_created_at }),
          through_segment: header.segment,
          digest: footer.digest,
          last_seq: header.last_seq,
          last_hash: footer.last_hash,
          last_at: header.last_at,
          pruned_at: this.now().toISOString(),
        },
        this.options.privateKey,
      ),
      { readerGid: this.options.readerGid },
    );
    for (const file of gone) await removeSegmentFile(dir, file.name);
    this.options.logger.info(
      { tenant, through: header.segment, removed: gone.length },
      'audit segments pruned',
    );
    return gone.length;
  }

  /**
   * The newest segment retention may remove as far as shipping goes: any, without a shipper; else
   * the one the signed shipped record names (none without a record). A record that does not verify
   * stops the tenant's pruning: raised by hand, it would have segments the collector never got
   * removed under a pruning marker that verify accepts.
   */
  private async shippedThrough(
    tenant: string,
    dir: string,
  ): Promise<{ segment: number; digest?: string; tenant_created_at?: string | undefined }> {
    if (!this.options.shipper) return { segment: Infinity };
    const read = await readShipCursor(dir, this.publicKey, tenant);
    if (read === undefined) return { segment: 0 };
    if ('problem' in read) throw this.unshipped(tenant, dir, read.problem);
    return read.cursor;
  }

  private unshipped(tenant: string, dir: string, problem: string): BulkheadError {
    return new BulkheadError(
      'audit_verification_failed',
      `tenant ${tenant}: ${join(dir, SHIP_CURSOR_FILE)} does not verify (${problem}): no segment pruned`,
    );
  }
}
