// An MCP transport over a pack's stdin/stdout as the engine hands them out (docker attach): one
// JSON-RPC message per line, as MCP's stdio transport defines. Bounded: a line longer than
// `maxLineBytes` or anything that is not a JSON-RPC message closes the transport with an error
// (a pack writing garbage cannot make the supervisor buffer without end).
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { parseJSONRPCMessage } from '@modelcontextprotocol/client';

export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly maxLineBytes: number;
  private buffer = '';
  private closed = false;

  constructor(options: { input: Readable; output: Writable; maxLineBytes: number }) {
    this.input = options.input;
    this.output = options.output;
    this.maxLineBytes = options.maxLineBytes;
  }

  start(): Promise<void> {
    this.input.setEncoding('utf8');
    this.input.on('data', (chunk: string) => this.receive(chunk));
    this.input.on('end', () => void this.close());
    this.input.on('error', (error) => this.fail(error));
    return Promise.resolve();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line.length > 0) {
        try {
          this.onmessage?.(parseJSONRPCMessage(JSON.parse(line)));
        } catch {
          this.fail(
            new Error(`the pack wrote something that is not a JSON-RPC message: ${line.slice(0, 120)}`),
          );
          return;
        }
      }
      newline = this.buffer.indexOf('\n');
    }
    if (Buffer.byteLength(this.buffer) > this.maxLineBytes)
      this.fail(new Error(`the pack sent a message over ${this.maxLineBytes} bytes`));
  }

  private fail(error: Error): void {
    this.onerror?.(error);
    void this.close();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the pack closed its stdio'));
    this.output.write(`${JSON.stringify(message)}\n`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.input.removeAllListeners('data');
      this.onclose?.();
    }
    return Promise.resolve();
  }
}
