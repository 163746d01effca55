// The stdio transport to one pack process. Not the SDK's StdioClientTransport, because a hostile
// pack needs what that one does not give: an environment of exactly the pack's own variables (no
// inherited ones), a process group of its own so that a kill takes every process it forked, an
// immediate SIGKILL (no grace period for a pack that hangs), and a bound on one message's size that
// kills the pack instead of buffering without end (and on what it leaves unread of its stdin). What it reads of the pack's stdout is bounded
// before it is parsed (pack-stdout.ts): past a budget of lines per interval that are not answers to
// the runtime's requests, they are dropped or reading pauses. A line that is not JSON-RPC is
// dropped and reported (a pack writing garbage to stdout); the stderr of a pack goes to the
// runtime's log, bounded. An answer to a request in flight that JSON-RPC does not allow (a string
// error code, an error without a message, both a result and an error, neither) would be dropped by
// the SDK's client, its request left to wait out the call timeout: it is reported and replaced by
// the runtime's own error for that request (malformedAnswer), which fails at once.
import type { ChildProcessWithoutNullStreams as ChildProcess } from 'node:child_process';
import { isJSONRPCResponse, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';
import { PACK_STDERR_LINE_LIMIT } from '../../../kernel/packs/pack-stderr.ts';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import { spawnPack } from './pack-launch.ts';
import { PackStdout, type LineBudget, type LineOutcome } from './pack-stdout.ts';
import { takePrestarted } from './prestarted.ts';

export interface PackTransportOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  maxMessageBytes: number;
  /**
   * A line the pack wrote to stderr, a line of stdout that was not JSON-RPC, or a malformed answer
   * to a request in flight (each truncated; `why` says what a malformed one breaks).
   */
  onOutput: (kind: 'stderr' | 'garbage' | 'malformed', line: string, why?: string) => void;
  /** Lines of stdout past the budget (pack-stdout.ts). */
  budget: LineBudget;
  /** Lines dropped past the budget since the last report; `first`: this interval's first drop. */
  onDropped: (report: { dropped: number; first: boolean }) => void;
}

/** How many messages' bounds a pack may leave unread on its stdin before it is killed. */
export const STDIN_BACKLOG_MESSAGES = 4;

/** A request of the runtime's to the pack (a method and an id), which waits for its answer. */
function isRequest(message: JSONRPCMessage): boolean {
  const sent = message as { id?: unknown; method?: unknown };
  return typeof sent.method === 'string' && sent.id !== undefined;
}

/**
 * The key of a request's id as the SDK's client matches an answer to it (by `Number(id)`), so that
 * an answer it would take is never taken for anything else here.
 */
function answerKey(id: unknown): string | undefined {
  if (typeof id !== 'number' && typeof id !== 'string') return undefined;
  return String(Number(id));
}

/** The most of a malformed answer the runtime's log keeps (as much as of an unrelayed log message). */
export const MALFORMED_LINE_LIMIT = 2048;

/** What an answer breaks of JSON-RPC 2.0 as the SDK's client reads it (only asked of a broken one). */
function malformation(answer: object): string {
  const { result, error } = answer as { result?: unknown; error?: unknown };
  if (result !== undefined && error !== undefined) return 'both a result and an error';
  if (result === undefined && error === undefined) return 'neither a result nor an error';
  if (error !== undefined) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    if (!Number.isInteger(code)) return `an error whose code is not an integer (${JSON.stringify(code)})`;
    if (typeof message !== 'string') return 'an error without a string message';
  }
  if (result !== undefined && (typeof result !== 'object' || result === null || Array.isArray(result)))
    return 'a result that is not an object';
  return 'members or an id JSON-RPC does not allow';
}

/**
 * The runtime's error for a request the pack answered with a malformed response: JSON-RPC's
 * internal error (the pack, not the request, is why there is no answer), whose data is the
 * structured `pack_unavailable` (transient: the pack broke the protocol, as the error table says).
 * `id` is the request's own, as the SDK's client matches it.
 */
export function malformedAnswer(id: number, why: string): JSONRPCMessage {
  const message = `the pack answered with a malformed JSON-RPC response (${why}); the request failed, the pack keeps running`;
  const { error } = toolError('pack_unavailable', message).structuredContent;
  return { jsonrpc: '2.0', id, error: { code: -32603, message, data: error } };
}

export class PackTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child: ChildProcess | undefined;
  /** The process was started by the image's entry and adopted (prestarted.ts), not spawned here. */
  adopted = false;
  private stdout: PackStdout | undefined;
  /** Our requests to the pack that have no answer yet, by answerKey. */
  private readonly asked = new Set<string>();
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
      const stdout = new PackStdout({
        maxMessageBytes: this.options.maxMessageBytes,
        budget: this.options.budget,
        handle: (line, withinBudget) => this.handle(line, withinBudget),
        pause: () => child.stdout.pause(),
        resume: () => child.stdout.resume(),
        tooLong: () => {
          this.onerror?.(new Error(`a message over ${this.options.maxMessageBytes} bytes`));
          this.kill();
        },
        dropping: this.options.onDropped,
      });
      this.stdout = stdout;
      child.stdout.on('data', (chunk: Buffer) => stdout.read(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim()) this.options.onOutput('stderr', line.slice(0, PACK_STDERR_LINE_LIMIT));
        }
      });
    });
  }

  /** Parses a line and hands it on: an answer to a request in flight always, the rest within budget. */
  private handle(line: string, withinBudget: boolean): LineOutcome {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      message = undefined;
    }
    const rpc = message as { jsonrpc?: unknown; id?: unknown; method?: unknown } | null | undefined;
    const jsonRpc = typeof rpc === 'object' && rpc !== null && rpc.jsonrpc === '2.0';
    const key = jsonRpc && rpc.method === undefined ? answerKey(rpc.id) : undefined;
    const answer = key !== undefined && this.asked.delete(key);
    if (!answer && !withinBudget) return 'refused';
    if (!jsonRpc) {
      if (line.trim()) this.options.onOutput('garbage', line.slice(0, 200));
      return 'other';
    }
    // At most one per request the runtime sent (its key is taken above): bounded as the calls are.
    // A malformed line naming no request in flight goes on to the SDK's client, which drops it.
    if (answer && !isJSONRPCResponse(message)) {
      const why = malformation(rpc);
      this.options.onOutput('malformed', line.slice(0, MALFORMED_LINE_LIMIT), why);
      this.onmessage?.(malformedAnswer(Number(key), why));
      return 'answer';
    }
    this.onmessage?.(message as JSONRPCMessage);
    return answer ? 'answer' : 'other';
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed) return Promise.reject(new Error('pack is not running'));
    // A pack that does not read its stdin would have everything sent to it held here without end:
    // the answers to its own requests most of all, which it can ask for as fast as its line budget
    // lets it. With more than a message's bound unread, what is not a request (an answer, a
    // notification) is not written: a pack that reads nothing misses nothing it would have read.
    // With more than STDIN_BACKLOG_MESSAGES such bounds unread (calls it never read), it is killed,
    // as one that writes a message past the bound is; a burst of calls a reading pack has not yet
    // caught up with stays well below that.
    const unread = stdin.writableLength;
    if (unread > this.options.maxMessageBytes * STDIN_BACKLOG_MESSAGES) {
      const error = new Error(
        `a pack that does not read its stdin: ${unread} bytes unread, over ${this.options.maxMessageBytes * STDIN_BACKLOG_MESSAGES}`,
      );
      this.onerror?.(error);
      this.kill();
      return Promise.reject(error);
    }
    if (unread > this.options.maxMessageBytes && !isRequest(message)) return Promise.resolve();
    this.track(message);
    return new Promise((resolve) => {
      if (stdin.write(`${JSON.stringify(message)}\n`)) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** Our requests in flight: only their answers pass the budget (pack-stdout.ts). */
  private track(message: JSONRPCMessage): void {
    const sent = message as { id?: unknown; method?: unknown; params?: { requestId?: unknown } };
    if (typeof sent.method !== 'string') return;
    if (sent.id !== undefined) {
      const key = answerKey(sent.id);
      if (key !== undefined) this.asked.add(key);
    } else if (sent.method === 'notifications/cancelled') {
      // Given up (a timeout, the caller's cancel): a late answer is one more line of the pack's.
      const key = answerKey(sent.params?.requestId);
      if (key !== undefined) this.asked.delete(key);
    }
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
    this.stdout?.stop();
    // Forked descendants can outlive the leader: the group is killed once more at the end.
    this.kill();
    this.child?.stdout?.destroy();
    this.child?.stdin?.destroy();
    this.child?.stderr?.destroy();
    this.onclose?.();
  }
}
