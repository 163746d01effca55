// What the router's shutdown waits for before it closes its connections: the /mcp requests still in
// flight. Closing every connection at once on SIGTERM (a rolling restart, the engine's stop) cut
// each call mid-answer: the client saw its connection reset, and a write that had run could not
// tell its agent so. A `subscriptions/listen` stream is open until its client goes, so it is not
// waited for: it is cut at the end, and its client listens again on another router.
//
// A balancer in front may keep sending new connections for a while after the signal: with a notice
// period (`announce`, then BULKHEAD_SHUTDOWN_NOTICE_MS) the router keeps listening and serving, but
// its /healthz answers 503 so that the balancer takes it out first, and every answer closes its
// connection so that clients reconnect, to another router.
//
// Once the server stops listening, Node ends each keep-alive connection when its answer has gone. A
// request that still arrives on one meanwhile is served, waited for within the same deadline, and
// answered with `Connection: close`.
import type { NextFunction, Response } from 'express';
import type { AuthenticatedRequest } from '../auth/bearer-auth.ts';

/** A request's hold on the drain, given to the endpoint through its auth info. */
export interface DrainHold {
  /** This request is a long-lived stream (a listen request): shutdown does not wait for it. */
  streaming(): void;
}

export class RequestDrain {
  #inFlight = 0;
  #draining = false;
  #wake: ((settled: boolean) => void) | undefined;

  /** Shutdown has begun: /healthz answers 503 and every answer closes its connection. */
  get stopping(): boolean {
    return this.#draining;
  }

  /** Shutdown has begun (see `stopping`); requests are still served. */
  announce(): void {
    this.#draining = true;
  }

  /** How many requests shutdown would wait for now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Middleware for the /mcp route, after authentication: counts the request until its answer is
   * written or its client went away, and hands the endpoint its hold (`req.auth.extra.drain`).
   */
  readonly track = (req: AuthenticatedRequest, res: Response, next: NextFunction): void => {
    if (this.#draining) res.setHeader('Connection', 'close');
    this.#inFlight++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#inFlight--;
      if (this.#inFlight === 0) this.#wake?.(true);
    };
    res.once('close', release);
    if (req.auth) {
      const drain: DrainHold = { streaming: release };
      req.auth.extra = { ...req.auth.extra, drain } as typeof req.auth.extra;
    }
    next();
  };

  /**
   * From now on a request that arrives is answered with `Connection: close`; resolves true once no
   * request is in flight, or
   * false after `deadlineMs` with some still in flight (the caller then cuts them).
   */
  async settle(deadlineMs: number): Promise<boolean> {
    this.#draining = true;
    if (this.#inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const settled = await new Promise<boolean>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    return settled;
  }
}
