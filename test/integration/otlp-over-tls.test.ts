// Sealed audit segments shipped to a SIEM's collector over HTTPS, as the supervisor's exporter is
// configured by the OpenTelemetry exporter's own variables (read when it is made, as at the
// supervisor's start): a collector whose certificate no trusted CA signed gets nothing (an impostor
// does not receive the trail) and the cursor stays; the CA that OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE
// names is trusted; a collector that asks for a client certificate gets the one
// OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE and _CLIENT_KEY name, and refuses the shipper without it.
// Spans go the same way (the router's, the supervisor's and the gateway's exporter is the same
// library's, reading OTEL_EXPORTER_OTLP_TRACES_*). A real OTLP/HTTP receiver behind TLS with a CA of
// the test's own (openssl), real files and Redis.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIP_CURSOR_FILE } from '../../kernel/audit/segment-files.ts';
import { startTracing } from '../../kernel/telemetry/tracing.ts';
import { AuditShipper } from '../../supervisor/audit/audit-shipper.ts';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { makeTestPki, type TestPki } from '../support/test-pki.ts';

const TENANT = 'shipped-tls';
const VARIABLES = [
  'OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE',
] as const;
let audit: AuditHarness;
let pki: TestPki;
let collector: OtlpReceiver;
let mutual: OtlpReceiver;

/** Ships the tenant's sealed segments with an exporter made under these variables. */
type Variables = Partial<Record<(typeof VARIABLES)[number], string>>;

/** `make()` with these variables set (the exporters read theirs when they are made), then without. */
async function withVariables<T>(variables: Variables, make: () => Promise<T>): Promise<T> {
  Object.assign(process.env, variables);
  try {
    return await make();
  } finally {
    for (const name of VARIABLES) delete process.env[name];
  }
}

async function shipWith(url: string, variables: Variables): Promise<{ segments: number; records: number }> {
  return withVariables(variables, () => {
    const shipper = new AuditShipper({
      dir: audit.auditDir,
      privateKey: audit.privateKey,
      // A short timeout: a refused handshake is retried by the exporter until it runs out.
      exporter: new OTLPLogExporter({ url, timeoutMillis: 1_500 }),
      logger: pino({ level: 'silent' }),
    });
    return shipper.ship(TENANT);
  });
}

const received = (receiver: OtlpReceiver) =>
  receiver.logs.filter((log) => log.attributes['bulkhead.tenant'] === TENANT).length;

beforeAll(async () => {
  audit = await auditHarness('audit-ship-tls', [TENANT]);
  const dir = join(audit.ns.runDir, 'pki');
  await mkdir(dir);
  pki = makeTestPki(dir);
  collector = await startOtlpReceiver({ tls: { cert: pki.cert, key: pki.key } });
  mutual = await startOtlpReceiver({ tls: { cert: pki.cert, key: pki.key, clientCa: pki.ca } });
  for (let n = 1; n <= 2; n++) await audit.trail.append(callEvent(TENANT, `tool-${n}`));
  await audit.sealer({ maxEntries: 10 }).seal(TENANT);
});

afterAll(async () => {
  await collector?.close();
  await mutual?.close();
  await audit?.close();
});

describe('audit shipping over HTTPS', () => {
  it('sends nothing to a collector whose certificate no trusted CA signed, and keeps the cursor', async () => {
    expect(await shipWith(collector.logsUrl, {})).toMatchObject({ segments: 0, records: 0 });
    expect(received(collector)).toBe(0);
    expect(collector.requests).toBe(0);
    expect(existsSync(join(audit.auditDir, TENANT, SHIP_CURSOR_FILE))).toBe(false);
  });

  it('refuses a collector that asks for a client certificate when it has none', async () => {
    expect(await shipWith(mutual.logsUrl, { OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: pki.ca })).toMatchObject({
      segments: 0,
    });
    expect(mutual.requests).toBe(0);
  });

  it('ships to a collector signed by the CA OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE names', async () => {
    expect(await shipWith(collector.logsUrl, { OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: pki.ca })).toMatchObject({
      segments: 1,
      records: 2,
    });
    expect(received(collector)).toBe(2);
  });

  it('presents the client certificate the exporter variables name (mutual TLS)', async () => {
    // The cursor moved with the collector above: this one gets the next segment.
    await audit.trail.append(callEvent(TENANT, 'tool-3'));
    await audit.sealer({ maxEntries: 10 }).seal(TENANT);
    const shipped = await shipWith(mutual.logsUrl, {
      OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: pki.ca,
      OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: pki.clientCert,
      OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: pki.clientKey,
    });
    expect(shipped).toMatchObject({ segments: 1, records: 1 });
    expect(received(mutual)).toBe(1);
  });
});

describe('traces over HTTPS', () => {
  /** One span of a process tracing to `url`, exported now; whether the collector received it. */
  const traced = (url: string, variables: Variables) =>
    withVariables(variables, async () => {
      const tracing = startTracing({ service: 'bulkhead-router', endpoint: url })!;
      const name = `tls-check-${randomUUID()}`;
      tracing.tracer.startSpan(name).end();
      // An export the collector's certificate stops fails the flush: the span is not there.
      await tracing.flush().catch(() => undefined);
      await tracing.shutdown().catch(() => undefined);
      return collector.spans.some((span) => span.name === name);
    });

  it('export only to a collector whose CA is trusted: the one OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE names', async () => {
    expect(await traced(collector.url, {})).toBe(false);
    expect(await traced(collector.url, { OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: pki.ca })).toBe(true);
  });
});
