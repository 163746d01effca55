// The event-stream reader of the dispatcher's runtime requests (router/dispatch/event-stream.ts):
// message events only, every line ending, events split anywhere across chunks.
import { describe, expect, it } from 'vitest';
import { parseEventStream } from '../../router/dispatch/event-stream.ts';

async function events(chunks: string[]): Promise<string[]> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  const out: string[] = [];
  for await (const data of parseEventStream(body)) out.push(data);
  return out;
}

describe('event stream', () => {
  it('yields the data of message events; comments, ids, retries and other event types are dropped', async () => {
    const stream =
      ': a comment\n\nid: 7\nretry: 10\ndata: {"a":1}\n\nevent: other\ndata: no\n\n' +
      'event: message\ndata: first\ndata:second\n\ndata\n\n';
    expect(await events([stream])).toEqual(['{"a":1}', 'first\nsecond', '']);
  });

  it('reads CR, LF and CRLF line ends, split anywhere across chunks, and multi-byte characters split too', async () => {
    const stream = 'data: é1\r\n\r\ndata: two\r\rdata: three\n\n';
    const bytes = new TextEncoder().encode(stream);
    // One byte per chunk: every CRLF and the two-byte é are split.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    const out: string[] = [];
    for await (const data of parseEventStream(body)) out.push(data);
    expect(out).toEqual(['é1', 'two', 'three']);
  });

  it('drops an event the stream ends in the middle of', async () => {
    expect(await events(['data: whole\n\n', 'data: cut'])).toEqual(['whole']);
  });
});
