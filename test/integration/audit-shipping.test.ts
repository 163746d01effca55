// Sealed audit segments shipped to a SIEM's collector as OTLP logs: the supervisor's sealer with its
// shipper (the real OTLPLogExporter) against the real Redis, real files and a real OTLP/HTTP
// receiver that decodes what arrives. Every entry arrives once, in order, with every field `bulkhead
// audit export` writes and its trace id as the record's; a collector that refuses keeps the cursor
// where it was and retention from pruning what it has not accepted; a tampered segment is not
// shipped, nor anything after it; the supervisor's metrics count all of it.
import { createPublicKey } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { SHIP_CURSOR_FILE } from '../../kernel/audit/segment-files.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import type { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { AuditShipper } from '../../supervisor/audit/audit-shipper.ts';
import { readTrail } from '../../tenants/control-plane/audit-history.ts';
import { SupervisorMetrics } from '../../supervisor/metrics/runtime-metrics.ts';
import { startSupervisor } from '../../supervisor/supervisor.ts';
import { auditHarness, shipperTo, type AuditHarness } from '../support/audit-harness.ts';
import { runCli } from '../support/cli.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedLog } from '../support/otlp-receiver.ts';
import { parseExposition, total } from '../support/prometheus-text.ts';

const TENANT = 'shipped';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
let audit: AuditHarness;
let trail: AuditTrail;
let receiver: OtlpReceiver;
let metrics: SupervisorMetrics;
let sealer: AuditSealer;

const call = (n: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  tenant: TENANT,
  user: n % 2 ? 'u1' : null,
  agent: 'agent-1',
  tool: 'records_create',
  decision: 'permit',
  reason: 'ok',
  kind: 'call',
  args_digest: 'a'.repeat(64),
  status: 'ok',
  latency_ms: 1.25 + n,
  units: n,
  trace_id: TRACE,
  ...extra,
});

const OTHER = 'shipped-other';
const seqs = (logs: ReceivedLog[], tenant = TENANT) =>
  logs
    .filter((log) => log.attributes['bulkhead.tenant'] === tenant)
    .map((log) => log.attributes['bulkhead.audit.seq']);
const tenantDir = () => join(audit.auditDir, TENANT);
const metric = async (name: string) => total(parseExposition(await metrics.registry.metrics()), name);

beforeAll(async () => {
  audit = await auditHarness('audit-ship', [TENANT]);
  trail = audit.trail;
  receiver = await startOtlpReceiver();
  metrics = new SupervisorMetrics();
  sealer = audit.sealer({
    maxEntries: 3,
    shipper: shipperTo(audit, receiver.logsUrl, { metrics: metrics.auditShipping }),
  });
});

afterAll(async () => {
  await receiver?.close();
  await audit?.close();
});

describe('audit shipping', () => {
  it('ships every sealed entry once, in order, with every field and its trace', async () => {
    for (let n = 1; n <= 4; n++) await trail.append(call(n));
    await trail.append(
      call(5, { decision: 'deny', reason: 'tool_not_allowed', status: 'error', trace_id: undefined }),
    );
    await sealer.runOnce();
    expect(await readdir(tenantDir())).toEqual(
      expect.arrayContaining([segmentFileName(1), segmentFileName(2), SHIP_CURSOR_FILE]),
    );
    expect(seqs(receiver.logs)).toEqual([1, 2, 3, 4, 5]);
    // Each record's body is the line `bulkhead audit export` writes for it.
    const segments = await Promise.all(
      [1, 2].map(async (n) => (await readFile(join(tenantDir(), segmentFileName(n)), 'utf8')).split('\n')),
    );
    const digests = segments.map((lines) => (JSON.parse(lines.at(-2)!) as { digest: string }).digest);
    const [first, , , , denied] = receiver.logs;
    const entry = JSON.parse(segments[0]![1]!) as Record<string, unknown>;
    expect(first!.body).toEqual({ ...entry, segment: 1, segment_digest: digests[0] });
    expect(first!.body).toMatchObject({
      tenant: TENANT,
      user: 'u1',
      agent: 'agent-1',
      units: 1,
      latency_ms: 2.25,
    });
    expect(receiver.logs[1]!.body).toMatchObject({ user: null, segment: 1 });
    expect(denied!.body).toMatchObject({
      decision: 'deny',
      status: 'error',
      segment: 2,
      segment_digest: digests[1],
    });
    expect(first).toMatchObject({
      traceId: TRACE,
      severityText: 'INFO',
      eventName: 'bulkhead.audit.record',
      scope: 'bulkhead.audit',
      resource: { 'service.name': 'bulkhead-supervisor' },
      attributes: { 'bulkhead.tenant': TENANT, 'bulkhead.audit.hash': entry.hash },
    });
    // The entry's time, to OTLP's nanoseconds and back.
    expect(first!.timeMs).toBeCloseTo(Date.parse(entry.at as string), 3);
    expect(denied).toMatchObject({ traceId: undefined, severityText: 'WARN' });
    // Nothing new: nothing sent again.
    await sealer.runOnce();
    expect(seqs(receiver.logs)).toEqual([1, 2, 3, 4, 5]);
    expect(await metric('bulkhead_audit_records_shipped_total')).toBe(5);
    expect(await metric('bulkhead_audit_segments_unshipped')).toBe(0);
  });

  it('keeps what a refusing collector did not accept, and retention from pruning it', async () => {
    await audit.registry.create({ id: OTHER, plan: planByName('small'), isolation: 'runc' });
    receiver.refuse = 400;
    for (let n = 6; n <= 8; n++) await trail.append(call(n));
    for (let n = 1; n <= 2; n++) await trail.append(call(n, { tenant: OTHER }));
    const tried = receiver.rejected;
    await sealer.runOnce();
    expect(await readdir(tenantDir())).toContain(segmentFileName(3));
    expect(seqs(receiver.logs)).toEqual([1, 2, 3, 4, 5]);
    // One refused export in the pass: the other tenant's segment waits for the next pass.
    expect(receiver.rejected - tried).toBe(1);
    expect(await metric('bulkhead_audit_ship_failures_total')).toBe(1);
    expect(await metric('bulkhead_audit_segments_unshipped')).toBe(2);
    // A year on, everything is past the tenant's retention: only the shipped segments go.
    audit.clock.at = new Date(Date.now() + 366 * 86_400_000);
    await sealer.runOnce();
    const files = await readdir(tenantDir());
    expect(files).not.toContain(segmentFileName(1));
    expect(files).not.toContain(segmentFileName(2));
    expect(files).toContain(segmentFileName(3));
    // The collector accepts again: segment 3 arrives, then retention takes it too.
    receiver.refuse = undefined;
    await sealer.runOnce();
    expect(seqs(receiver.logs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seqs(receiver.logs, OTHER)).toEqual([1, 2]);
    expect(await metric('bulkhead_audit_segments_unshipped')).toBe(0);
    await sealer.runOnce();
    expect(await readdir(tenantDir())).not.toContain(segmentFileName(3));
    audit.clock.at = undefined;
  });

  it('ships no tampered segment, nor any after it', async () => {
    for (let n = 9; n <= 14; n++) await trail.append(call(n));
    receiver.refuse = 400;
    await sealer.runOnce();
    receiver.refuse = undefined;
    // Segment 4 (entries 9 to 11) edited on disk before it was shipped: latency 0 in entry 9.
    const file = join(tenantDir(), segmentFileName(4));
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[1] = lines[1]!.replace(/"latency_ms":[0-9.]+/, '"latency_ms":0');
    await writeFile(file, lines.join('\n'), { mode: 0o600 });
    const failures = await metric('bulkhead_audit_ship_failures_total');
    await sealer.runOnce();
    expect(seqs(receiver.logs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await metric('bulkhead_audit_ship_failures_total')).toBe(failures + 1);
    expect(await metric('bulkhead_audit_segments_unshipped')).toBe(2);
    expect(JSON.parse(await readFile(join(tenantDir(), SHIP_CURSOR_FILE), 'utf8'))).toMatchObject({
      segment: 3,
      last_seq: 8,
    });
    // The auditor's verify names the tampering, and says how far the SIEM's copy goes.
    const verify = (tenant: string) =>
      runCli(
        {
          namespace: audit.ns.namespace,
          devDir: join(audit.ns.runDir, 'dev'),
          extra: {
            BULKHEAD_AUDIT_DIR: audit.auditDir,
            BULKHEAD_AUDIT_PUBLIC_KEY_FILE: audit.keys.publicKeyFile,
          },
        },
        ['audit', 'verify', tenant],
      );
    const broken = await verify(TENANT);
    expect(broken.code).toBe(5);
    expect(broken.stderr).toContain(`${segmentFileName(4)}: entry 9: content changed`);
    // The console's whole trail says it too.
    const sealed = { root: audit.auditDir, publicKey: createPublicKey(audit.privateKey) };
    const view = await readTrail({ trail, tenant: OTHER, sealed });
    expect(view.chain).toMatchObject({ ok: true, sealed: { prunedThrough: 1, shippedThrough: 1 } });
    const other = await verify(OTHER);
    expect(other.stdout).toMatch(
      /segments 1-1 pruned by retention; .* shipped to the SIEM through segment 1; tenant shipped-other created \S+Z$/m,
    );
  });

  it('sends a segment again when its cursor was not written, with the same seq and hash to drop the copy', async () => {
    const AGAIN = 'shipped-again';
    await audit.registry.create({ id: AGAIN, plan: planByName('small'), isolation: 'runc' });
    for (let n = 1; n <= 2; n++) await trail.append(call(n, { tenant: AGAIN }));
    await sealer.runOnce();
    // A supervisor stopped after the collector's answer and before the cursor's write.
    await rm(join(audit.auditDir, AGAIN, SHIP_CURSOR_FILE));
    await sealer.runOnce();
    const again = receiver.logs.filter((log) => log.attributes['bulkhead.tenant'] === AGAIN);
    expect(seqs(again, AGAIN)).toEqual([1, 2, 1, 2]);
    expect(again[2]!.attributes['bulkhead.audit.hash']).toBe(again[0]!.attributes['bulkhead.audit.hash']);
    expect(again[2]!.body).toEqual(again[0]!.body);
  });

  it("sends the headers the OpenTelemetry exporter's own variables name, e.g. a SIEM's key", async () => {
    const other = await startOtlpReceiver();
    process.env.OTEL_EXPORTER_OTLP_LOGS_HEADERS = 'authorization=Bearer%20siem-key';
    try {
      // The exporter reads its variables when it is made, as the supervisor's is at its start.
      const exporter = new OTLPLogExporter({ url: other.logsUrl });
      const shipper = new AuditShipper({
        dir: audit.auditDir,
        privateKey: audit.privateKey,
        exporter,
        logger: pino({ level: 'silent' }),
      });
      await trail.append(call(1, { tenant: OTHER }));
      await audit.sealer({ maxEntries: 3 }).seal(OTHER);
      expect(await shipper.ship(OTHER)).toMatchObject({ segments: 1, records: 1, behind: 0 });
      expect(other.logsAuthorization).toEqual(['Bearer siem-key']);
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_LOGS_HEADERS;
      await other.close();
    }
  });

  it('a supervisor given a logs endpoint and no signing key refuses to start', async () => {
    await expect(
      startSupervisor({
        installation: audit.ns.installation,
        runDir: join(audit.ns.runDir, 'run'),
        image: RUNTIME_IMAGE,
        routerPublicKeyFile: join(audit.ns.runDir, 'keys', 'none.pub'),
        routerGid: 0,
        logger: pino({ level: 'silent' }),
        auditOtlpLogsEndpoint: receiver.logsUrl,
      }),
    ).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining('set BULKHEAD_AUDIT_SIGNING_KEY_FILE too'),
    });
  });
});
