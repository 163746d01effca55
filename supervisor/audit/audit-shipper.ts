// Ships each tenant's sealed audit segments to the security team's collector (a SIEM's OpenTelemetry
// endpoint) as OTLP logs, one log record per audit entry, carrying every field of the entry as
// `bulkhead audit export` writes it. Segments go in order, each only once it verifies as the next
// link of the chain already shipped (signature, digest, the previous segment's digest, the entries'
// hash chain), so the collector never receives an edited, reordered or foreign segment. A cursor
// per tenant (<tenant>/shipped.json, beside the segments, signed with the sealer's key: retention
// prunes by it) moves only once the collector has accepted a whole segment. Delivery is at least once: a supervisor stopped between the collector's answer
// and the cursor's write sends that segment again on its next pass, and each record carries its seq
// and hash for the receiver to drop the copy. Retention removes only shipped segments while
// shipping is configured (audit-sealer.ts), so nothing sealed is pruned before it reached the SIEM.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SeverityNumber } from '@opentelemetry/api';
import { ExportResultCode, millisToHrTime } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Logger } from 'pino';
import { exportedEntry, type ParsedSegment, type SegmentLink } from '../../kernel/audit/audit-segment.ts';
import { chainStart, SegmentChainCheck } from '../../kernel/audit/segment-chain.ts';
import {
  listSegments,
  readMarker,
  readSegmentText,
  readShipCursor,
  replaceFile,
  SHIP_CURSOR_FILE,
  tenantSegmentDir,
  type SegmentWriteOptions,
} from '../../kernel/audit/segment-files.ts';
import { signShipCursor, type ShipCursor } from '../../kernel/audit/ship-cursor.ts';
import { serviceResource } from '../../kernel/telemetry/tracing.ts';

/** At most this many records in one export request (a segment may hold more). */
const MAX_RECORDS_PER_EXPORT = 512;

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

export interface ShipperMetrics {
  /** Records the collector accepted. */
  shipped(records: number): void;
  /** A pass that stopped short for a tenant (collector refused, or a segment did not verify). */
  failed(): void;
  /** Sealed segments of every tenant not shipped at the end of a pass. */
  unshipped(segments: number): void;
}

export interface AuditShipperOptions extends SegmentWriteOptions {
  /** The installation's audit directory (the sealer's). */
  dir: string;
  /**
   * The sealer's signing key: its public half checks each segment before it leaves, and it signs the
   * shipped record (retention trusts no other).
   */
  privateKey: KeyObject;
  /** Where the records go: an OTLPLogExporter pointed at the collector's /v1/logs. */
  exporter: LogRecordExporter;
  logger: Logger;
  metrics?: ShipperMetrics | undefined;
  now?: () => Date;
}

export interface ShipReport {
  segments: number;
  records: number;
  /** Sealed segments still not shipped after this pass. */
  behind: number;
  /** The newest segment the collector has accepted (its cursor), 0 when none. */
  through: number;
}

export class AuditShipper {
  private readonly options: AuditShipperOptions;
  private readonly now: () => Date;
  private readonly resource = serviceResource('bulkhead-supervisor');
  private readonly publicKey: KeyObject;
  /**
   * The collector did not accept an export in this pass: the other tenants wait for the next pass
   * (an unreachable collector costs the exporter's retries, seconds, once a pass, not once a tenant).
   */
  private collectorFailed = false;

  constructor(options: AuditShipperOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.publicKey = createPublicKey(options.privateKey);
  }

  /** The end of a pass over every tenant: how many sealed segments are still not shipped. */
  passDone(behind: number): void {
    this.collectorFailed = false;
    this.options.metrics?.unshipped(behind);
  }

  /**
   * Ships every sealed segment of `tenant` past its cursor, in order (from `dir`: an offboarded
   * tenant's, moved aside). Stops at the first segment
   * that does not verify or that the collector does not accept: it is tried again on the next pass.
   */
  async ship(tenant: string, dir = tenantSegmentDir(this.options.dir, tenant)): Promise<ShipReport> {
    const { logger } = this.options;
    const start = await this.start(dir, tenant);
    const link = start?.link ?? chainStart(undefined);
    const unshipped = (await listSegments(dir)).filter((s) => s.number >= link.segment);
    const report: ShipReport = {
      segments: 0,
      records: 0,
      behind: unshipped.length,
      through: start?.through ?? 0,
    };
    if (this.collectorFailed || !start) return report;
    // One segment at a time, read, checked and sent: a backlog (a collector down for days) is never
    // in memory whole. Each is checked as the next link of the chain already shipped, as `bulkhead
    // audit verify` checks it.
    const chain = new SegmentChainCheck({ from: link, publicKey: this.publicKey, tenant });
    for (const listed of unshipped) {
      const segment = chain.next({ ...listed, text: await readSegmentText(dir, listed.name) });
      if (!segment) {
        logger.error(
          { tenant, problem: chain.result.problem },
          'audit segment not shipped: it does not verify',
        );
        this.options.metrics?.failed();
        break;
      }
      const { header, footer, entries } = segment;
      try {
        await this.export(this.records(segment));
      } catch (error) {
        this.collectorFailed = true;
        logger.warn(
          { tenant, segment: header.segment, err: error },
          'audit segment not shipped: the collector did not accept it',
        );
        this.options.metrics?.failed();
        return report;
      }
      const cursor = signShipCursor(
        {
          tenant,
          ...(header.tenant_created_at === undefined ? {} : { tenant_created_at: header.tenant_created_at }),
          segment: header.segment,
          digest: footer.digest,
          last_seq: header.last_seq,
          last_hash: footer.last_hash,
        },
        this.options.privateKey,
      );
      await replaceFile(dir, SHIP_CURSOR_FILE, `${JSON.stringify(cursor)}\n`, {
        readerGid: this.options.readerGid,
      });
      this.options.metrics?.shipped(entries.length);
      report.segments += 1;
      report.records += entries.length;
      report.behind -= 1;
      report.through = header.segment;
    }
    if (report.segments > 0) logger.info({ tenant, ...report }, 'audit segments shipped');
    return report;
  }

  /**
   * Where shipping continues (after the cursor, or where the trail on disk starts), and the newest
   * segment shipped so far; undefined when the shipped record does not verify. A record in the
   * unsigned form of before (or written so by hand) is not trusted: the trail on disk is shipped
   * again from its start, at least once as always, and the record written anew, signed. One that
   * names another tenant, or whose signature does not verify, was changed: nothing is shipped (nor
   * pruned: audit-sealer.ts) until an operator has seen what the collector holds and removed it.
   */
  private async start(
    dir: string,
    tenant: string,
  ): Promise<{ link: SegmentLink; through: number } | undefined> {
    const read = await readShipCursor(dir, this.publicKey, tenant);
    const marker = await readMarker(dir);
    if (read && 'problem' in read) {
      this.options.logger[read.unsigned ? 'warn' : 'error'](
        { tenant, problem: read.problem },
        read.unsigned
          ? 'audit segments shipped again from the start of the trail on disk: the shipped record is not signed'
          : 'audit segments not shipped: the shipped record does not verify',
      );
      if (!read.unsigned) {
        this.options.metrics?.failed();
        return undefined;
      }
    }
    const cursor = read && 'cursor' in read ? read.cursor : undefined;
    const through = cursor?.segment ?? 0;
    if (cursor && !(marker && cursor.segment < marker.through_segment))
      return { link: nextAfter(cursor), through };
    // Segments pruned before they were shipped: shipping was configured after retention removed them.
    if (marker && (cursor?.segment ?? 0) < marker.through_segment)
      this.options.logger.warn(
        { tenant, shipped: cursor?.segment ?? 0, prunedThrough: marker.through_segment },
        'audit segments were pruned before shipping was configured: shipping starts after them',
      );
    return { link: chainStart(marker), through };
  }

  /**
   * One log record per entry: the entry and its segment as the body (every field, as `bulkhead audit
   * export` writes them), its trace as the record's; a refusal or a failed call at WARN, else INFO.
   */
  private records(segment: ParsedSegment): ReadableLogRecord[] {
    const observed = millisToHrTime(this.now().getTime());
    return segment.entries.map((entry) => {
      const refused = entry.decision === 'deny' || entry.status === 'error';
      const body = exportedEntry(entry, segment);
      const traceId =
        entry.trace_id !== undefined && TRACE_ID.test(entry.trace_id) ? entry.trace_id : undefined;
      return {
        hrTime: millisToHrTime(Date.parse(entry.at)),
        hrTimeObserved: observed,
        severityNumber: refused ? SeverityNumber.WARN : SeverityNumber.INFO,
        severityText: refused ? 'WARN' : 'INFO',
        eventName: 'bulkhead.audit.record',
        body,
        attributes: {
          'bulkhead.tenant': entry.tenant,
          'bulkhead.audit.seq': entry.seq,
          'bulkhead.audit.hash': entry.hash,
        },
        ...(traceId ? { spanContext: { traceId, spanId: '', traceFlags: 0 } } : {}),
        resource: this.resource,
        instrumentationScope: { name: 'bulkhead.audit' },
        droppedAttributesCount: 0,
      };
    });
  }

  private async export(records: ReadableLogRecord[]): Promise<void> {
    for (let at = 0; at < records.length; at += MAX_RECORDS_PER_EXPORT) {
      const chunk = records.slice(at, at + MAX_RECORDS_PER_EXPORT);
      await new Promise<void>((resolve, reject) =>
        this.options.exporter.export(chunk, (result) =>
          result.code === ExportResultCode.SUCCESS
            ? resolve()
            : reject(result.error ?? new Error('the collector refused the export')),
        ),
      );
    }
  }
}

function nextAfter(cursor: ShipCursor): SegmentLink {
  return {
    segment: cursor.segment + 1,
    prevSegmentDigest: cursor.digest,
    chain: { prev: cursor.last_hash, seq: cursor.last_seq + 1 },
  };
}
