// Reads a server-sent event stream (the HTML standard's format: fields on lines ended by CR, LF or
// CRLF, an empty line ends an event) and yields the data of each `message` event. Comments, `id`
// and `retry` are read and dropped: the router never resumes a runtime's stream. The size of what
// is read is bounded by the stream it is given (bounded-fetch.ts), not here.
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let afterCr = false;
  let data: string[] = [];
  let type = '';
  try {
    for (;;) {
      const chunk = await reader.read();
      let text = chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      // A CRLF split across chunks: the LF ends no second line.
      if (afterCr && text.startsWith('\n')) text = text.slice(1);
      pending += text;
      let start = 0;
      for (let i = 0; i < pending.length; i++) {
        const c = pending.charCodeAt(i);
        if (c !== 0x0a && c !== 0x0d) continue;
        const line = pending.slice(start, i);
        if (c === 0x0d && pending.charCodeAt(i + 1) === 0x0a) i++;
        start = i + 1;
        if (line === '') {
          if (data.length > 0 && (type === '' || type === 'message')) yield data.join('\n');
          data = [];
          type = '';
          continue;
        }
        const colon = line.indexOf(':');
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
      }
      afterCr = pending.length > 0 && start === pending.length && pending.endsWith('\r');
      pending = pending.slice(start);
      if (chunk.done) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
