// The router's shutdown drain on a real HTTP server (express, loopback): settle waits for a request
// in flight and tells its answer to close the connection, lets a streaming request go, and gives up
// at its deadline with the request still held.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedRequest } from '../../router/auth/bearer-auth.ts';
import { RequestDrain, type DrainHold } from '../../router/http/request-drain.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A server whose every request waits for the test to answer it. */
async function serving(drain: RequestDrain) {
  const waiting: { res: Response; hold: DrainHold }[] = [];
  let arrived: () => void = () => undefined;
  const app = express();
  app.use((req: AuthenticatedRequest, _res, next) => {
    // What the bearer middleware leaves: the drain adds its hold to the auth info's extra.
    req.auth = {
      token: 't',
      clientId: 'c',
      scopes: [],
      extra: {},
    } as unknown as AuthenticatedRequest['auth'];
    next();
  });
  app.use(drain.track, (req: AuthenticatedRequest, res: Response) => {
    waiting.push({ res, hold: (req.auth?.extra as unknown as { drain: DrainHold }).drain });
    arrived();
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () => server.closeAllConnections(),
    () => server.close(),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    /** The request held `index`-th. */
    held(index: number): { res: Response; hold: DrainHold } {
      const request = waiting[index];
      if (!request) throw new Error(`no request ${index} held`);
      return request;
    },
    /** Sends a request; resolves once the server holds it, with its answer to come. */
    async send(): Promise<{ answer: Promise<globalThis.Response> }> {
      const held = new Promise<void>((resolve) => (arrived = resolve));
      const answer = fetch(url, { method: 'POST' });
      answer.catch(() => undefined);
      await held;
      return { answer };
    },
  };
}

describe('RequestDrain', () => {
  it('settles at once with nothing in flight', async () => {
    expect(await new RequestDrain().settle(60_000)).toBe(true);
  });

  it('waits for the requests in flight; one that arrives meanwhile is answered with Connection: close', async () => {
    const drain = new RequestDrain();
    const server = await serving(drain);
    await server.send();
    const settled = drain.settle(60_000);
    let done = false;
    void settled.then(() => (done = true));
    const late = await server.send();
    expect(drain.inFlight).toBe(2);
    server.held(0).res.json({ ok: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    server.held(1).res.json({ ok: true });
    expect(await settled).toBe(true);
    expect((await late.answer).headers.get('connection')).toBe('close');
    expect(drain.inFlight).toBe(0);
  });

  it('does not wait for a request that said it streams', async () => {
    const drain = new RequestDrain();
    const server = await serving(drain);
    await server.send();
    server.held(0).hold.streaming();
    expect(drain.inFlight).toBe(0);
    expect(await drain.settle(60_000)).toBe(true);
  });

  it('gives up at its deadline with a request still in flight', async () => {
    const drain = new RequestDrain();
    const server = await serving(drain);
    await server.send();
    expect(await drain.settle(50)).toBe(false);
    expect(drain.inFlight).toBe(1);
  });
});
