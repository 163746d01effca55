// What of one forwarded request crosses between the client and the runtime besides its params
// (router/dispatch/runtime-request.ts): toward the runtime, the router's `_meta` envelope over the
// client's (the router is the runtime's client) and the router's own progress token; back, only the
// spec's fields of a progress notification, and none that breaks the spec's shape. The port faked
// is our own (`RuntimePost`): it records the body sent and answers with a scripted event stream.
import { describe, expect, it } from 'vitest';
import type { BoundedAnswer } from '../../router/dispatch/bounded-fetch.ts';
import { MAX_PROGRESS_MESSAGE_LENGTH, type RelayedNotification } from '../../router/dispatch/call-relay.ts';
import { RUNTIME_ENVELOPE, sendRuntimeRequest } from '../../router/dispatch/runtime-request.ts';

interface Sent {
  id: number;
  params: { _meta: Record<string, unknown> } & Record<string, unknown>;
}

/** Sends `params` as a tools/call whose runtime answers with `notes(id)` then a result. */
async function exchange(
  params: Record<string, unknown>,
  notes: (id: number) => unknown[] = () => [],
  asked: { progressToken?: string } = { progressToken: 'client-token' },
): Promise<{ sent: Sent; heard: RelayedNotification[] }> {
  let sent: Sent | undefined;
  const post = (body: string): Promise<BoundedAnswer> => {
    sent = JSON.parse(body) as Sent;
    const { id } = sent;
    const answer = { jsonrpc: '2.0', id, result: { resultType: 'complete', content: [] } };
    const text = [...notes(id), answer].map((m) => `data: ${JSON.stringify(m)}\n\n`).join('');
    const body$ = new Blob([text]).stream();
    return Promise.resolve({ status: 200, contentType: 'text/event-stream', body: body$ });
  };
  const heard: RelayedNotification[] = [];
  const notify = (n: RelayedNotification): Promise<void> => {
    heard.push(n);
    return Promise.resolve();
  };
  await sendRuntimeRequest(
    post,
    { method: 'tools/call', params },
    { notify, ...asked },
    new AbortController(),
  );
  if (!sent) throw new Error('nothing was sent');
  return { sent, heard };
}

describe("the client's _meta toward the runtime", () => {
  it("carries the router's envelope and progress token, whatever the client put there", async () => {
    const { sent } = await exchange({
      name: 'records_get',
      arguments: {},
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2025-06-18',
        'io.modelcontextprotocol/clientInfo': { name: 'someone-else', version: '6.6.6' },
        'io.modelcontextprotocol/clientCapabilities': { sampling: {}, roots: {} },
        progressToken: 'client-token',
        'io.modelcontextprotocol/logLevel': 'debug',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'example.com/note': 'kept',
      },
    });
    expect(sent.params._meta).toEqual({
      ...RUNTIME_ENVELOPE,
      progressToken: sent.id,
      'io.modelcontextprotocol/logLevel': 'debug',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'example.com/note': 'kept',
    });
  });

  it('sends no client progress token when the router asks for no progress, and no _meta is the envelope', async () => {
    const asked = await exchange({ name: 'records_get', _meta: { progressToken: 7 } }, () => [], {});
    expect(asked.sent.params._meta).toEqual(RUNTIME_ENVELOPE);
    const none = await exchange({ name: 'records_get', _meta: 'not an object' }, () => [], {});
    expect(none.sent.params._meta).toEqual(RUNTIME_ENVELOPE);
  });
});

describe("a runtime's progress toward the client", () => {
  const progress = (token: number, params: Record<string, unknown>) => ({
    jsonrpc: '2.0',
    method: 'notifications/progress',
    params: { progressToken: token, ...params },
  });

  it('relays only progress, total and message, and drops a notification that breaks the shape', async () => {
    const { heard } = await exchange({ name: 'records_get' }, (id) => [
      progress(id, { progress: 1, total: 10, secret: 'x', _meta: { 'io.bulkhead/budget': {} } }),
      progress(id, { progress: 2, message: 5 }),
      progress(id, { progress: 3, total: 'ten' }),
      progress(id, { progress: '4' }),
      progress(id, { progress: 5, message: 'm'.repeat(MAX_PROGRESS_MESSAGE_LENGTH + 1) }),
      progress(id, { progress: 6, message: 'm'.repeat(MAX_PROGRESS_MESSAGE_LENGTH) }),
      progress(id, { progress: 7, total: 10, message: 'seven' }),
    ]);
    expect(heard).toEqual([
      { method: 'notifications/progress', params: { progressToken: 'client-token', progress: 1, total: 10 } },
      {
        method: 'notifications/progress',
        params: {
          progressToken: 'client-token',
          progress: 6,
          message: 'm'.repeat(MAX_PROGRESS_MESSAGE_LENGTH),
        },
      },
      {
        method: 'notifications/progress',
        params: { progressToken: 'client-token', progress: 7, total: 10, message: 'seven' },
      },
    ]);
  });
});
