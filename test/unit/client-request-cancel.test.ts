// A 2025 session's request in flight (ClientRequests.during) is aborted by the SDK's own abort and
// by its client's cancellation naming it, and by nothing else: not a cancellation of another
// session, nor of another id (a string "1" is not the number 1). The SDK's signal lives as long as
// its request, so the listener `during` puts on it is taken off when the request ends.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ClientRequests } from '../../router/mcp/client-requests.ts';

const cancellation = (requestId: string | number) => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId },
});

/** Runs `during` for request 1 of session `s1` until its signal aborts; what aborted it. */
function inFlight(requests: ClientRequests, sdk: AbortController) {
  let signal: AbortSignal | undefined;
  const ended = requests.during({ session: 's1', id: 1, signal: sdk.signal }, (given) => {
    signal = given;
    return new Promise<unknown>((resolve) => given.addEventListener('abort', () => resolve(given.reason)));
  });
  return { ended, signal: () => signal! };
}

describe("a 2025 session's request in flight", () => {
  it("is aborted by its client's cancellation, and only by one that names it in its session", async () => {
    const requests = new ClientRequests();
    const sdk = new AbortController();
    const call = inFlight(requests, sdk);
    expect(requests.cancel('s2', cancellation(1))).toBe(false);
    expect(requests.cancel('s1', cancellation('1'))).toBe(false);
    expect(requests.cancel('s1', { method: 'notifications/progress', params: { requestId: 1 } })).toBe(false);
    expect(call.signal().aborted).toBe(false);
    expect(requests.cancel('s1', cancellation(1))).toBe(true);
    expect(String(await call.ended)).toContain('the client cancelled the request');
    expect(getEventListeners(sdk.signal, 'abort')).toHaveLength(0);
    expect(requests.cancel('s1', cancellation(1))).toBe(false);
  });

  it("is aborted by the SDK's abort, with its reason, and leaves no listener on the SDK's signal", async () => {
    const requests = new ClientRequests();
    const sdk = new AbortController();
    const call = inFlight(requests, sdk);
    sdk.abort('stream closed');
    expect(await call.ended).toBe('stream closed');
    expect(getEventListeners(sdk.signal, 'abort')).toHaveLength(0);
  });

  it('that ends by itself takes its listener off the SDK signal', async () => {
    const requests = new ClientRequests();
    const sdk = new AbortController();
    await requests.during({ session: 's1', id: 7, signal: sdk.signal }, () => Promise.resolve('answered'));
    expect(getEventListeners(sdk.signal, 'abort')).toHaveLength(0);
    expect(requests.cancel('s1', cancellation(7))).toBe(false);
  });

  it('already aborted by the SDK runs with its signal aborted', async () => {
    const requests = new ClientRequests();
    const sdk = new AbortController();
    sdk.abort('gone before');
    const reason = await requests.during({ session: 's1', id: 2, signal: sdk.signal }, (signal) =>
      Promise.resolve<unknown>(signal.aborted ? signal.reason : 'not aborted'),
    );
    expect(reason).toBe('gone before');
  });
});
