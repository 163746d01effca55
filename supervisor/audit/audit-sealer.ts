// Moves each tenant's audit entries out of Redis into signed segment files (kernel/audit/), then
// trims from the stream exactly the entries sealed, and applies the tenant's retention to the
// segments. It runs in the supervisor, on its scheduler: one long-lived process per installation
// (routers are many and face the network), and the only one that holds the signing key. A sealer
// that crashes between writing a segment and trimming Redis trims those entries on its next pass
// (their seq is at or below the newest segment's). With a shipper (audit-shipper.ts), each pass
// ships the new segments to the SIEM's collector between sealing and pruning, and retention removes
// only segments already shipped.
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { verifyChain, type AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { buildSegment, parseSegment } from '../../kernel/audit/audit-segment.ts';
import { prunable, signPruneMarker } from '../../kernel/audit/segment-chain.ts';
import {
  listSegments,
  readSegmentText,
  nextLink,
  readMarker,
  removeSegmentFile,
  tenantSegmentDir,
  writeMarker,
  writeSegmentFile,
} from '../../kernel/audit/segment-files.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { AuditShipper } from './audit-shipper.ts';

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

  constructor(options: AuditSealerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * One pass over every tenant: seal, ship, then prune (no further than what was shipped). A failure
   * for one tenant does not stop the others; a tenant whose shipping failed is not pruned this pass.
   */
  async runOnce(): Promise<void> {
    const { shipper } = this.options;
    let behind = 0;
    for (const tenant of await this.options.tenants.list()) {
      try {
        await this.seal(tenant.id);
        let through = Infinity;
        if (shipper) {
          const shipped = await shipper.ship(tenant.id);
          behind += shipped.behind;
          through = shipped.through;
        }
        await this.prune(tenant.id, tenant.retention.auditDays, through);
      } catch (error) {
        this.options.logger.error({ tenant: tenant.id, err: error }, 'audit sealing failed');
      }
    }
    shipper?.passDone(behind);
  }

  /** Seals every entry of `tenant` still in Redis, `maxEntries` per segment. */
  async seal(tenant: string): Promise<SealReport> {
    const { trail, maxEntries, privateKey, logger } = this.options;
    const dir = tenantSegmentDir(this.options.dir, tenant);
    const report: SealReport = { segments: 0, entries: 0 };
    for (;;) {
      const link = await nextLink(dir);
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
   * Removes the oldest segments entirely past `days` of retention: first a signed marker naming the
   * last one removed (so verify tells pruning from tampering), then the files; none past segment
   * `through` (the last one shipped, when shipping is on). Returns how many.
   */
  async prune(tenant: string, days: number, through = Infinity): Promise<number> {
    const dir = tenantSegmentDir(this.options.dir, tenant);
    const pruned = (await readMarker(dir))?.through_segment ?? 0;
    const all = await listSegments(dir);
    // Left by a pass that wrote its marker and stopped before removing them.
    for (const file of all.filter((f) => f.number <= pruned)) await removeSegmentFile(dir, file.name);
    const files = all.filter((f) => f.number > pruned);
    const described = [];
    // Headers are read only as far as the oldest segment still within retention.
    const cutoff = new Date(this.now().getTime() - days * 86_400_000);
    // Only each segment's header and footer are kept: a retention shortened by months makes many
    // segments prunable at once, and their entries are not held together.
    for (const file of files) {
      const { header, footer } = parseSegment(await readSegmentText(dir, file.name));
      described.push({ ...file, lastAt: header.last_at, header, footer });
      if (!(Date.parse(header.last_at) < cutoff.getTime())) break;
    }
    const gone = prunable(described, cutoff).filter((file) => file.number <= through);
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
}
