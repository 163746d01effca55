// What a request's answer waits for before it leaves the router: the audit records of what it
// answers (router/mcp/call-audit.ts). A handler starts its record's append and returns, so the SDK
// builds and serializes the answer meanwhile; the endpoint then holds the answer's bytes until every
// record started before them is settled (written, or logged whole when it could not be). So an
// answered call is still an audited call, and for a request whose client is alone (its append sent
// at once: kernel/redis/flush-timing.ts) the append's round trip overlaps the SDK's own work instead
// of following it.
//
// A JSON answer is complete when the SDK hands it over: it waits once. An SSE answer (a 2025 session,
// or a 2026-07-28 call that sent notifications first) is handed over before its handler ends: each of
// its chunks waits for the records started before it, so the result's frame, written after the
// handler started its record, waits for that record, and a progress notification before it does not.

export class AnswerHold {
  #pending: Promise<unknown>[] = [];

  /** Holds the request's answer until `work` is settled (never failed on its account). */
  add(work: Promise<unknown>): void {
    this.#pending.push(work);
  }

  /** Settles once everything added so far is; at once when nothing is pending. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      await Promise.allSettled(pending);
    }
  }

  /** `response`, released only after what was added before each of its parts is settled. */
  async hold(response: Response): Promise<Response> {
    const type = response.headers.get('content-type')?.toLowerCase() ?? '';
    if (!type.startsWith('text/event-stream') || response.body === null) {
      await this.settled();
      return response;
    }
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: async (chunk, controller) => {
          await this.settled();
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}
