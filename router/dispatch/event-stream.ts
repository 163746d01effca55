// Reads a runtime's server-sent event stream and yields the data of each `message` event, parsed by
// eventsource-parser (the parser the MCP SDK's own client uses). Comments, `id` and `retry` are
// dropped: the router never resumes a runtime's stream. The size of what is read is bounded by the
// stream it is given (bounded-fetch.ts), not here.
import { EventSourceParserStream } from 'eventsource-parser/stream';

export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const events = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) {
    if (event.event === undefined || event.event === 'message') yield event.data;
  }
}
