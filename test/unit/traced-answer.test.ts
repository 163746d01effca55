// A traced call's answer is held whole until its spans are finished (runtime-image/src/traced-answer.ts):
// past its bound the call is cancelled, the rest of the stream is not read, and the caller gets a
// JSON-RPC error carrying read_bound_exceeded, with the spans; within it, the answer as it was.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import { sendTraced } from '../../runtime-image/src/traced-answer.ts';
import type { CallTrace } from '../../runtime-image/src/tracing/call-tracer.ts';

const CHUNK = 64 * 1024;
let server: Server | undefined;

afterEach(() => server?.close());

/** Serves one traced answer of `chunks` chunks under `maxBytes`; what the caller and the stream saw. */
async function answer(chunks: number, maxBytes: number) {
  const seen = { pulled: 0, streamCancelled: false, callCancelled: false };
  server = createServer((_req, res) => {
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (seen.pulled++ < chunks) controller.enqueue(new Uint8Array(CHUNK).fill(97));
        else controller.close();
      },
      cancel: () => void (seen.streamCancelled = true),
    });
    const response = new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
    const callTrace = { finish: () => 'the-spans' } as unknown as CallTrace;
    void sendTraced({
      res,
      response,
      callTrace,
      requestId: 7,
      cancel: () => void (seen.callCancelled = true),
      log: pino({ level: 'silent' }),
      maxBytes,
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const got = await new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      request({ host: '127.0.0.1', port, method: 'POST' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
        );
      })
        .on('error', reject)
        .end();
    },
  );
  return { ...got, seen };
}

describe('a traced answer', () => {
  it('is sent whole with its spans when within its bound', async () => {
    const { status, headers, body, seen } = await answer(4, 4 * CHUNK);
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream');
    expect(headers[RUNTIME_SPANS_HEADER]).toBe('the-spans');
    expect(body.length).toBe(4 * CHUNK);
    expect(seen).toMatchObject({ streamCancelled: false, callCancelled: false });
  });

  it('past its bound cancels the call, reads no further, and answers read_bound_exceeded with the spans', async () => {
    const { status, headers, body, seen } = await answer(1_000, 4 * CHUNK);
    expect(status).toBe(200);
    expect(headers[RUNTIME_SPANS_HEADER]).toBe('the-spans');
    expect(seen).toMatchObject({ streamCancelled: true, callCancelled: true });
    // Read up to the chunk that passed the bound (and the stream's one chunk ahead), not all 1,000.
    expect(seen.pulled).toBeLessThanOrEqual(7);
    expect(JSON.parse(body.toString())).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32603, data: { code: 'read_bound_exceeded', error_class: 'transient' } },
    });
  });
});
