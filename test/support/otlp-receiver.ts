// A real OTLP/HTTP endpoint for tests: it accepts what the OpenTelemetry exporters send (POST
// /v1/traces and /v1/logs, OTLP JSON) and decodes every span and log record with its resource, so a
// test can follow one trace across processes, or see what a SIEM's collector would receive. Listens
// on loopback, port 0, unless told otherwise.
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value: AnyValue };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: { name: string }[];
  links?: { traceId: string; spanId: string; attributes?: KeyValue[] }[];
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}

interface OtlpLogsRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: {
      scope?: { name?: string };
      logRecords?: {
        timeUnixNano?: string | number;
        severityNumber?: number;
        severityText?: string;
        eventName?: string;
        body?: AnyValue;
        attributes?: KeyValue[];
        traceId?: string;
        spanId?: string;
      }[];
    }[];
  }[];
}

/** One received log record: its body decoded to plain JSON, its attributes and resource flattened. */
export interface ReceivedLog {
  timeMs: number;
  severityNumber: number | undefined;
  severityText: string | undefined;
  eventName: string | undefined;
  scope: string | undefined;
  body: unknown;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  traceId: string | undefined;
}

/** One received span, its attributes and its resource's flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  /** When the span started and ended, ms since the epoch (OTLP's nanoseconds, as a float). */
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  events: string[];
  links: { traceId: string; spanId: string; attributes: Record<string, string | number | boolean> }[];
}

export interface OtlpReceiver {
  /** The traces URL to configure (BULKHEAD_OTLP_TRACES_ENDPOINT). */
  url: string;
  /** The logs URL to configure (BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT). */
  logsUrl: string;
  spans: ReceivedSpan[];
  logs: ReceivedLog[];
  /** While set, exports are refused with this HTTP status (a collector that does not accept them). */
  refuse: number | undefined;
  /** The `authorization` header of each logs export accepted (undefined: none sent). */
  logsAuthorization: (string | undefined)[];
  /**
   * While set, awaited when a logs export has arrived and its records are kept, before it is
   * answered: a test stops the exporting process there (the collector has the records; its sender
   * never hears so).
   */
  onLogs: (() => Promise<void>) | undefined;
  /** Export requests received, and those that were not OTLP JSON. */
  requests: number;
  rejected: number;
  /**
   * What `find` finds in the spans received, checked now and again on every export that arrives;
   * rejects with `missing()` after `timeoutMs` (a bound, not a poll).
   */
  waitFor<T>(
    find: (spans: ReceivedSpan[]) => T | undefined,
    missing: () => string,
    timeoutMs?: number,
  ): Promise<T>;
  close(): Promise<void>;
}

/** An OTLP AnyValue as plain JSON (an empty value, such as a null sent, as null). */
function decodeValue(value: AnyValue | undefined): unknown {
  if (value === undefined) return null;
  if (value.kvlistValue)
    return Object.fromEntries(
      (value.kvlistValue.values ?? []).map(({ key, value: v }) => [key, decodeValue(v)]),
    );
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue ?? null;
}

function flatten(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v =
      value.stringValue ??
      value.boolValue ??
      value.doubleValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue));
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export interface OtlpReceiverOptions {
  /**
   * `false`: decodes every span as a collector would but keeps none (only counts them): a
   * benchmark's receiver does not grow, and its garbage collection does not take more and more of
   * the machine's CPU as the run goes on.
   */
  keep?: boolean;
  /** Loopback and a free port unless given. */
  host?: string;
  port?: number;
  /**
   * HTTPS with this certificate and key (PEM files); with `clientCa`, a client must present a
   * certificate that CA signed (mutual TLS), or the handshake fails.
   */
  tls?: { cert: string; key: string; clientCa?: string };
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const keep = options.keep ?? true;
  const receiver: Omit<OtlpReceiver, 'close' | 'url' | 'logsUrl' | 'waitFor'> = {
    spans: [],
    logs: [],
    refuse: undefined,
    logsAuthorization: [],
    onLogs: undefined,
    requests: 0,
    rejected: 0,
  };
  let received = 0;
  const arrivals = new EventEmitter();
  const receiveLogs = (body: OtlpLogsRequest): void => {
    if (!keep) return;
    for (const resourceLogs of body.resourceLogs ?? []) {
      const resource = flatten(resourceLogs.resource?.attributes);
      for (const scope of resourceLogs.scopeLogs ?? []) {
        for (const record of scope.logRecords ?? []) {
          receiver.logs.push({
            timeMs: Number(record.timeUnixNano ?? NaN) / 1e6,
            severityNumber: record.severityNumber,
            severityText: record.severityText,
            eventName: record.eventName,
            scope: scope.scope?.name,
            body: decodeValue(record.body),
            attributes: flatten(record.attributes),
            resource,
            traceId: record.traceId || undefined,
          });
        }
      }
    }
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ spans: received, requests: receiver.requests }));
        return;
      }
      // What a receiver in a container (test/support/otlp-receiver-main.ts) kept, for the test outside.
      if (req.method === 'GET' && req.url === '/spans') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(receiver.spans));
        return;
      }
      if (req.method === 'GET' && req.url === '/logs') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(receiver.logs));
        return;
      }
      receiver.requests += 1;
      const json = /application\/json/.test(req.headers['content-type'] ?? '');
      const known = req.url === '/v1/traces' || req.url === '/v1/logs';
      if (req.method !== 'POST' || !known || !json || receiver.refuse !== undefined) {
        receiver.rejected += 1;
        res.writeHead(receiver.refuse ?? 415).end();
        return;
      }
      if (req.url === '/v1/logs') {
        receiveLogs(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpLogsRequest);
        receiver.logsAuthorization.push(req.headers.authorization);
        const answer = () => {
          if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          arrivals.emit('spans');
        };
        if (receiver.onLogs) void receiver.onLogs().then(answer, answer);
        else answer();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = flatten(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            received += 1;
            const decoded: ReceivedSpan = {
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
              startMs: Number(span.startTimeUnixNano ?? NaN) / 1e6,
              endMs: Number(span.endTimeUnixNano ?? NaN) / 1e6,
              attributes: flatten(span.attributes),
              resource,
              events: (span.events ?? []).map((e) => e.name),
              links: (span.links ?? []).map((l) => ({
                traceId: l.traceId,
                spanId: l.spanId,
                attributes: flatten(l.attributes),
              })),
            };
            if (keep) receiver.spans.push(decoded);
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      arrivals.emit('spans');
    });
  };
  const { tls } = options;
  const server: Server = tls
    ? createHttpsServer(
        {
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          ...(tls.clientCa
            ? { ca: readFileSync(tls.clientCa), requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        handle,
      )
    : createServer(handle);
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const waitFor = <T>(
    find: (spans: ReceivedSpan[]) => T | undefined,
    missing: () => string,
    timeoutMs = 20_000,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const found = find(receiver.spans);
        if (found === undefined) return;
        clearTimeout(timer);
        arrivals.off('spans', check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        arrivals.off('spans', check);
        reject(new Error(missing()));
      }, timeoutMs);
      arrivals.on('spans', check);
      check();
    });
  return Object.assign(receiver, {
    waitFor,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/traces`,
    logsUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/logs`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/**
 * The receiver in a child process (benchmarks: its decoding does not share their event loop), which
 * counts the spans it decodes and keeps none.
 */
export async function startReceiverProcess(): Promise<{
  url: string;
  /** The receiver process's id (a benchmark reads its CPU time from /proc). */
  pid: number;
  spans(): Promise<number>;
  close(): void;
}> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { startOtlpReceiver } = await import(${JSON.stringify(import.meta.url)});
       const receiver = await startOtlpReceiver({ keep: false });
       process.stdout.write(receiver.url + '\\n');
       process.on('SIGTERM', () => process.exit(0));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const url = line.toString().trim();
  return {
    url,
    pid: child.pid!,
    spans: async () => ((await (await fetch(new URL('/stats', url))).json()) as { spans: number }).spans,
    close: () => child.kill('SIGTERM'),
  };
}

/** What a receiver elsewhere (another process or container) has kept: its GET /spans or /logs. */
async function keptAt<T>(baseUrl: string, path: '/spans' | '/logs'): Promise<T[]> {
  const response = await fetch(new URL(path, baseUrl));
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as T[];
}

export const spansAt = (baseUrl: string) => keptAt<ReceivedSpan>(baseUrl, '/spans');
export const logsAt = (baseUrl: string) => keptAt<ReceivedLog>(baseUrl, '/logs');
