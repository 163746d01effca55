// The read bounds on their own, against real local HTTP servers: stream messages counted however
// the lines end, the response cap derived from payload bounds, a silent runtime told apart from a
// dripping one at the deadline, and the supervisor's health probe bounded against hostile answers.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BoundedReads,
  DEFAULT_READ_BOUNDS,
  ReadBoundError,
  responseCapFor,
} from '../../router/dispatch/bounded-fetch.ts';
import { classifyCallFailure } from '../../router/dispatch/call-failure.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(listener: RequestListener, path?: string): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  if (path) server.listen(path);
  else server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return path ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** Reads a whole response body through the bounds; resolves to the error that ended it, if any. */
async function readThrough(reads: BoundedReads, url: string): Promise<unknown> {
  return reads
    .run(async () => {
      const answer = await reads.request(() => request(url));
      await new Response(answer.body).text();
      return undefined;
    })
    .catch((error: unknown) => error);
}

describe('read bounds', () => {
  it('counts stream messages whether lines end in LF, CRLF or CR', async () => {
    const limits = { ...DEFAULT_READ_BOUNDS, maxStreamMessages: 3 };
    for (const end of ['\n', '\r\n', '\r']) {
      const stream =
        (events: number): RequestListener =>
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          // Each event: a data line, then an empty line; the line ends are written apart.
          for (let i = 0; i < events; i++) {
            res.write(`data: {}${end.slice(0, 1)}`);
            res.write(`${end.slice(1)}${end}`);
          }
          res.end();
        };
      expect(await readThrough(new BoundedReads(limits, 5_000), await serve(stream(3)))).toBeUndefined();
      const error = await readThrough(new BoundedReads(limits, 5_000), await serve(stream(4)));
      expect(error, JSON.stringify(end)).toBeInstanceOf(ReadBoundError);
      expect((error as ReadBoundError).kind).toBe('too_many_messages');
    }
  });

  it('cuts a body off at the cap, and passes one that fits', async () => {
    const url = await serve((_req, res) => res.end('x'.repeat(70_000)));
    const small = new BoundedReads({ ...DEFAULT_READ_BOUNDS, maxResponseBytes: 65_536 }, 5_000);
    expect(await readThrough(small, url)).toMatchObject({ kind: 'response_too_large' });
    const large = new BoundedReads({ ...DEFAULT_READ_BOUNDS, maxResponseBytes: 70_000 }, 5_000);
    expect(await readThrough(large, url)).toBeUndefined();
  });

  it('derives the response cap from the tools payload bounds, within floor and ceiling', () => {
    const largest = Math.max(...RECORDS_TOOLS.map((t) => t.maxPayloadBytes));
    expect(responseCapFor(RECORDS_TOOLS, 64 * 1024 * 1024)).toBe(16 * largest);
    expect(responseCapFor(RECORDS_TOOLS, 1024 * 1024)).toBe(1024 * 1024);
    expect(responseCapFor([{ maxPayloadBytes: 100 }], 64 * 1024 * 1024)).toBe(64 * 1024);
  });

  it('at the deadline, a silent runtime is a timeout and a dripping one is a breach', async () => {
    const silent = await serve(() => undefined);
    const quiet = await readThrough(new BoundedReads(DEFAULT_READ_BOUNDS, 300), silent);
    expect(quiet).toBeInstanceOf(SdkError);
    expect((quiet as SdkError).code).toBe(SdkErrorCode.RequestTimeout);
    expect(classifyCallFailure(quiet)).toBe('timed_out');
    const drip = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const dripping = await readThrough(new BoundedReads(DEFAULT_READ_BOUNDS, 300), drip);
    expect(dripping).toMatchObject({ kind: 'deadline_exceeded' });
    expect(classifyCallFailure(dripping)).toBe('bound_exceeded');
  });

  it('takes a parse error wrapped by the SDK as a malformed answer', async () => {
    const reads = new BoundedReads(DEFAULT_READ_BOUNDS, 5_000);
    const wrapped = new Error('negotiation failed', {
      cause: new SyntaxError('Unexpected end of JSON input'),
    });
    const error = await reads.run(() => Promise.reject(wrapped)).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'malformed_response' });
  });
});

describe('health probe against hostile answers', () => {
  it('reads only the status line: an endless body, huge headers or silence end it in time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-probe-'));
    try {
      const endless = await serve(
        (_req, res) => {
          res.writeHead(200);
          const timer = setInterval(() => res.write('x'.repeat(65_536)), 1);
          res.on('close', () => clearInterval(timer));
        },
        join(dir, 'endless.sock'),
      );
      const headers = await serve(
        (_req, res) => {
          res.writeHead(200, { 'x-pad': 'a'.repeat(1024 * 1024) }).end();
        },
        join(dir, 'headers.sock'),
      );
      const silent = await serve(() => undefined, join(dir, 'silent.sock'));
      const probe = (socketPath: string, deadlineMs?: number) =>
        probeHealth({ kind: 'unix', socketPath, uid: process.getuid!() }, deadlineMs);
      // The endless body and the huge headers are probed with a deadline past the test's timeout: the
      // probe's read bounds, not its deadline, end them (a probe that read on would fail the test at
      // its timeout). Silence ends only at the probe's own deadline (2 s by default).
      const [a, b, c] = await Promise.all([probe(endless, 600_000), probe(headers, 600_000), probe(silent)]);
      expect([a, b, c]).toEqual([true, false, false]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
