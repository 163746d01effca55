// The stdio transport to one pack process. Not the SDK's StdioClientTransport, because a hostile
// pack needs what that one does not give: an environment of exactly the pack's own variables (no
// inherited ones), a process group of its own so that a kill takes every process it forked, an
// immediate SIGKILL (no grace period for a pack that hangs), and a bound on one message's size that
// kills the pack instead of buffering without end. A line that is not JSON-RPC is counted and
// dropped (a pack writing garbage to stdout); the stderr of a pack goes to the runtime's log,
// bounded.
import type { ChildProcessWithoutNullStreams as ChildProcess } from 'node:child_process';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { PACK_STDERR_LINE_LIMIT } from '../../../kernel/packs/pack-stderr.ts';
import { spawnPack } from './pack-launch.ts';
import { takePrestarted } from './prestarted.ts';

export interface PackTransportOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  maxMessageBytes: number;
  /** A line the pack wrote to stderr (truncated) or a line of stdout that was not JSON-RPC. */
  onOutput: (kind: 'stderr' | 'garbage', line: string) => void;
}

const NEWLINE = 0x0a;

export class PackTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child: ChildProcess | undefined;
  /** The process was started by the image's entry and adopted (prestarted.ts), not spawned here. */
  adopted = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;
  private readonly options: PackTransportOptions;

  constructor(options: PackTransportOptions) {
    this.options = options;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { command, args, env, cwd } = this.options;
    return new Promise((resolve, reject) => {
      // Started already by the image's entry, launched exactly like this (prestarted.ts), or now.
      const launch = { command, args, env, cwd };
      const adopted = takePrestarted(launch);
      const child = adopted?.child ?? spawnPack(launch);
      this.adopted = adopted !== undefined;
      this.child = child;
      const failed = (error: Error): void => {
        reject(error);
        this.onerror?.(error);
        this.finish();
      };
      child.once('error', failed);
      child.once('exit', () => this.finish());
      if (adopted?.error) failed(adopted.error);
      else if (adopted?.spawned) resolve();
      else child.once('spawn', () => resolve());
      // Exited before adoption: its output still buffered is read first, then it is finished.
      if (adopted?.exited) setImmediate(() => this.finish());
      child.stdin.on('error', (error) => this.onerror?.(error));
      child.stdout.on('data', (chunk: Buffer) => this.read(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim()) this.options.onOutput('stderr', line.slice(0, PACK_STDERR_LINE_LIMIT));
        }
      });
    });
  }

  private read(chunk: Buffer): void {
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, start)) {
      this.pending.push(chunk.subarray(start, at));
      const line = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      start = at + 1;
      this.deliver(line);
      if (this.closed) return;
    }
    const rest = chunk.subarray(start);
    this.pendingBytes += rest.length;
    if (this.pendingBytes > this.options.maxMessageBytes) {
      this.pending = [];
      this.onerror?.(new Error(`a message over ${this.options.maxMessageBytes} bytes`));
      this.kill();
      return;
    }
    if (rest.length > 0) this.pending.push(rest);
  }

  private deliver(line: string): void {
    if (!line.trim()) return;
    if (Buffer.byteLength(line) > this.options.maxMessageBytes) {
      this.onerror?.(new Error(`a message over ${this.options.maxMessageBytes} bytes`));
      this.kill();
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      message = undefined;
    }
    if (
      typeof message !== 'object' ||
      message === null ||
      (message as { jsonrpc?: unknown }).jsonrpc !== '2.0'
    ) {
      this.options.onOutput('garbage', line.slice(0, 200));
      return;
    }
    this.onmessage?.(message as JSONRPCMessage);
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed) return Promise.reject(new Error('pack is not running'));
    return new Promise((resolve) => {
      if (stdin.write(`${JSON.stringify(message)}\n`)) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** SIGKILL to the pack's whole process group: a hung or forking pack gets no grace period. */
  kill(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  close(): Promise<void> {
    this.kill();
    this.finish();
    return Promise.resolve();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    // Forked descendants can outlive the leader: the group is killed once more at the end.
    this.kill();
    this.child?.stdout?.destroy();
    this.child?.stdin?.destroy();
    this.child?.stderr?.destroy();
    this.onclose?.();
  }
}
