// One pack: its child process (started on demand, restarted after a crash), the MCP client on its
// stdio, what it lists, and the circuit that stops restarting a pack that keeps failing. Every
// request to the pack is bounded by the call timeout (a tool call's counts the pack's own time, not
// its question's wait for the client's answer: pack-call-clock.ts); a pack that does not answer in
// time is killed with every process it forked.
import {
  Client,
  SdkError,
  SdkErrorCode,
  type Prompt,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Tool,
} from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import type { EnabledPack } from '../../../kernel/packs/enabled-packs.ts';
import { listPack } from '../../../kernel/packs/pack-listing.ts';
import { PACK_CLIENT_CAPABILITIES } from '../../../kernel/packs/pack-manifest.ts';
import type { OutputValidators } from './output-validators.ts';
import { packLaunch, type PackLaunchOptions } from './pack-launch.ts';
import type { LineBudget } from './pack-stdout.ts';
import { MALFORMED_LINE_LIMIT, PackTransport } from './pack-transport.ts';

export interface PackProcessOptions extends PackLaunchOptions {
  pack: EnabledPack;
  callTimeoutMs: number;
  maxMessageBytes: number;
  /** What of its stdout is handed on per interval (pack-stdout.ts). */
  lineBudget: LineBudget;
  /** Failures within CRASH_WINDOW_MS that open the circuit. */
  crashThreshold: number;
  log: Logger;
  /** Installs the relays (logging, server-to-client requests) on a freshly made client. */
  wire: (client: Client) => void;
  /** The client's output schema validators, shared by the runtime's packs (output-validators.ts). */
  validators: OutputValidators;
}

export interface PackListing {
  tools: Tool[];
  resources: Resource[];
  templates: ResourceTemplate[];
  prompts: Prompt[];
}

/** Why a pack cannot take a request now: the runtime answers with the matching tool error. */
export type PackRefusal =
  | { code: 'pack_circuit_open'; retryAfterMs: number; message: string }
  | { code: 'pack_unavailable'; message: string };

const CRASH_WINDOW_MS = 60_000;
const BASE_BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 300_000;

/** A failed request to the pack that the caller maps to a tool error. */
export function isTimeout(error: unknown): boolean {
  return error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout;
}

export function isConnectionLoss(error: unknown): boolean {
  return (
    error instanceof SdkError &&
    (error.code === SdkErrorCode.ConnectionClosed ||
      error.code === SdkErrorCode.NotConnected ||
      error.code === SdkErrorCode.SendFailed)
  );
}

export class PackProcess {
  readonly name: string;
  listing: PackListing = { tools: [], resources: [], templates: [], prompts: [] };
  private readonly options: PackProcessOptions;
  private client: Client | undefined;
  private transport: PackTransport | undefined;
  private starting: Promise<Client> | undefined;
  private failures: number[] = [];
  private opens = 0;
  private openUntil = 0;

  constructor(options: PackProcessOptions) {
    this.options = options;
    this.name = options.pack.name;
  }

  get pid(): number | undefined {
    return this.transport?.pid;
  }

  /** The running pack's client, starting it when needed; a refusal while its circuit is open. */
  async ready(): Promise<Client | PackRefusal> {
    if (this.client) return this.client;
    const now = Date.now();
    if (now < this.openUntil) {
      return {
        code: 'pack_circuit_open',
        retryAfterMs: this.openUntil - now,
        message: `pack ${this.name} kept failing; it is not restarted for another ${Math.ceil((this.openUntil - now) / 1000)} s`,
      };
    }
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    try {
      return await this.starting;
    } catch (error) {
      return {
        code: 'pack_unavailable',
        message: `pack ${this.name} did not start: ${(error as Error).message}`,
      };
    }
  }

  private async start(): Promise<Client> {
    const { log, maxMessageBytes, callTimeoutMs } = this.options;
    const transport = new PackTransport({
      ...packLaunch(this.options),
      maxMessageBytes,
      onOutput: (kind, line, why) => {
        if (kind === 'stderr') return log.info({ pack: this.name, line }, 'pack stderr');
        if (kind === 'garbage')
          return log.warn({ pack: this.name, line }, 'pack wrote a line that is not JSON-RPC; dropped');
        log.warn(
          { pack: this.name, line, why },
          'pack answered a request with a malformed JSON-RPC response: the request failed with pack_unavailable',
        );
      },
      budget: this.options.lineBudget,
      onDropped: ({ dropped, first }) => {
        const { lines, intervalMs } = this.options.lineBudget;
        if (first)
          log.warn(
            { pack: this.name, budget: lines, intervalMs, ...(dropped > 0 ? { dropped } : {}) },
            "a pack wrote more lines on stdout than its budget: the rest of this interval's lines that are not answers are dropped, unparsed unless they may be answers",
          );
        else log.warn({ pack: this.name, dropped }, "a pack's stdout lines dropped past its budget");
      },
    });
    const client = new Client(
      { name: 'bulkhead-tenant-runtime', version: '1.0.0' },
      { capabilities: PACK_CLIENT_CAPABILITIES, jsonSchemaValidator: this.options.validators },
    );
    // The SDK's errors quote whole messages (a response to nothing asked, say), each up to the
    // message bound: the log keeps what it keeps of a malformed answer.
    client.onerror = (error) =>
      log.warn(
        { pack: this.name, err: error.message.slice(0, MALFORMED_LINE_LIMIT) },
        'pack transport error',
      );
    this.options.wire(client);
    transport.onclose = () => this.exited(transport);
    this.transport = transport;
    try {
      await client.connect(transport, { timeout: callTimeoutMs });
      this.listing = await this.list(client);
    } catch (error) {
      transport.kill();
      this.noteFailure();
      throw error;
    }
    log.info(
      { pack: this.name, pid: transport.pid, tools: this.listing.tools.length, early: transport.adopted },
      'pack started',
    );
    this.client = client;
    return client;
  }

  /**
   * One page a request, all four lists bounded together by the message size as the approval's were
   * (kernel/packs/pack-listing.ts): past it the pack does not start. The SDK client's own list
   * methods walk up to 64 pages and hold them all, a quarter of a GiB at the default bound.
   */
  private async list(client: Client): Promise<PackListing> {
    const options = { timeout: this.options.callTimeoutMs };
    const listed = await listPack({
      capabilities: client.getServerCapabilities() ?? {},
      maxBytes: this.options.maxMessageBytes,
      page: (method, cursor) => client.request({ method, params: cursor ? { cursor } : {} }, options),
    });
    return {
      tools: listed.tools as Tool[],
      resources: listed.resources as Resource[],
      templates: listed.resourceTemplates as ResourceTemplate[],
      prompts: listed.prompts as Prompt[],
    };
  }

  private exited(transport: PackTransport): void {
    if (this.transport !== transport) return;
    const wasRunning = this.client !== undefined;
    this.client = undefined;
    this.transport = undefined;
    if (wasRunning) {
      this.options.log.warn({ pack: this.name }, 'pack exited; restarted on its next request');
      this.noteFailure();
    }
  }

  private noteFailure(): void {
    const now = Date.now();
    this.failures = [...this.failures.filter((t) => t > now - CRASH_WINDOW_MS), now];
    if (this.failures.length < this.options.crashThreshold) return;
    this.opens += 1;
    const backoff = Math.min(BASE_BACKOFF_MS * 2 ** (this.opens - 1), MAX_BACKOFF_MS);
    this.openUntil = now + backoff;
    this.failures = [];
    this.options.log.error({ pack: this.name, backoffMs: backoff }, 'pack circuit open');
  }

  /** Kills the pack and every process it forked (a hang, a protocol breach); counted as a failure. */
  kill(reason: string): void {
    const transport = this.transport;
    if (!transport) return;
    this.options.log.warn({ pack: this.name, reason }, 'killing pack');
    // Forgotten at once, not at its exit event: the next request starts a fresh process.
    this.client = undefined;
    this.transport = undefined;
    transport.kill();
    this.noteFailure();
  }

  async stop(): Promise<void> {
    const transport = this.transport;
    this.client = undefined;
    this.transport = undefined;
    await transport?.close();
  }
}
