// AnswerHold (router/request/answer-hold.ts): a JSON answer waits for everything added before it; an
// SSE answer's chunks each wait for what was added before them; a failed piece of work does not
// fail the answer.
import { describe, expect, it } from 'vitest';
import { AnswerHold } from '../../router/request/answer-hold.ts';

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('AnswerHold', () => {
  it('releases a JSON answer only once the work added before it is settled, even if it failed', async () => {
    const hold = new AnswerHold();
    const first = deferred();
    const second = deferred();
    hold.add(first.promise);
    hold.add(second.promise);
    let released = false;
    const held = hold.hold(Response.json({ ok: true })).then((r) => ((released = true), r));
    first.resolve();
    await tick();
    expect(released).toBe(false);
    second.reject(new Error('not written'));
    expect(await (await held).json()).toEqual({ ok: true });
  });

  it('passes an SSE chunk written before the work at once, and holds the one written after it', async () => {
    const hold = new AnswerHold();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const source = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const response = await hold.hold(
      new Response(source, { headers: { 'content-type': 'text/event-stream' } }),
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
    const encode = (text: string) => new TextEncoder().encode(text);
    const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
    controller.enqueue(encode('progress'));
    expect(decode((await reader.read()).value)).toBe('progress');

    const record = deferred();
    hold.add(record.promise);
    controller.enqueue(encode('result'));
    controller.close();
    let got: string | undefined;
    const next = reader.read().then((r) => (got = decode(r.value)));
    await tick();
    expect(got).toBeUndefined();
    record.resolve();
    await next;
    expect(got).toBe('result');
    expect((await reader.read()).done).toBe(true);
  });
});
