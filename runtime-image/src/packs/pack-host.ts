// The packs of this tenant: reads the enabled set and the delivered secrets once, gives each pack
// its own directory on the tenant's volume and its own process, and keeps what is served: the
// approved tools whose live definition digest equals the approved one (a drifted tool is withheld
// and logged), the resources by the pack that listed them, and the prompts under exposed names.
// Log messages and server-to-client requests from a pack reach the calls in flight to that pack.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, ServerNotification, Tool } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import {
  ENABLED_PACKS_FILE,
  EnabledPacksSchema,
  PackSecretsSchema,
  type EnabledPack,
  type EnabledPackTool,
  type PackSecrets,
} from '../../../kernel/packs/enabled-packs.ts';
import { PackNameSchema } from '../../../kernel/packs/pack-manifest.ts';
import { matchesPin } from '../../../kernel/tools/tool-definition.ts';
import { egressPort, egressProxyEnv } from '../egress-bridge.ts';
import { CONFINE_SCRIPT, type PackConfinementMode } from './pack-confinement.ts';
import { makePackDirs, packDirs } from './pack-launch.ts';
import { OutputValidators } from './output-validators.ts';
import { PackProcess, type PackListing } from './pack-process.ts';
import { PACK_LINE_BUDGET, type LineBudget } from './pack-stdout.ts';
import { discardPrestarted } from './prestarted.ts';
import type { ReferencePack } from './reference-pack.ts';
import { UnrelayedLog } from './unrelayed-log.ts';

export interface PackHostOptions {
  packsDir: string;
  /** The operator's packs, read once at start (readEnabledPacks): the egress bridge gets the same. */
  enabled: EnabledPack[];
  /** The egress bridge's tenant-wide port; pack i of enabled.json gets the port after it plus i. */
  egressPort: number;
  secretsFile: string;
  dataDir: string;
  /** Each pack gets a directory of its own in here (its TMPDIR). */
  tmpDir: string;
  /** pack-confinement.ts: required Landlock, or the sandbox where the kernel offers none. */
  confinement: PackConfinementMode;
  callTimeoutMs: number;
  maxMessageBytes: number;
  /** What of a pack's stdout is handed on per interval (pack-stdout.ts); PACK_LINE_BUDGET unless a test sets it. */
  lineBudget?: LineBudget | undefined;
  crashThreshold: number;
  log: Logger;
  /** The reference pack (reference-pack.ts): served first, with no egress port, its keys its own. */
  reference?: ReferencePack | undefined;
}

/** A call in flight to a pack: where the pack's log messages and its requests to the client go. */
export interface CallRelay {
  /** The `traceparent` of the call's pack span, when the call is traced. */
  readonly traceparent?: string | undefined;
  notify(notification: ServerNotification): void;
  request(method: 'elicitation/create' | 'sampling/createMessage', params: unknown): Promise<unknown>;
}

export interface ServedTool {
  process: PackProcess;
  pack: EnabledPack;
  approved: EnabledPackTool;
  /** A tool of the reference pack, which honours idempotency keys in its own transaction. */
  reference: boolean;
  /**
   * The definition the pack listed, judged the approved one (a served tool's): the client checks a
   * result against its output schema.
   */
  definition?: Tool;
}

/**
 * Reads the enabled packs; none when the image has no enabled.json. A pack under a reserved name
 * (a built-in tool's first word, the reference pack's) is left out: approvals refuse such names, and
 * an enabled.json that names one anyway must not shadow the records tools.
 */
export function readEnabledPacks(packsDir: string): EnabledPack[] {
  const file = join(packsDir, ENABLED_PACKS_FILE);
  if (!existsSync(file)) return [];
  const { packs } = EnabledPacksSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return packs.filter((pack) => PackNameSchema.safeParse(pack.name).success);
}

/** Reads the delivered secrets once and removes the file: no later reader finds them. */
export function takeSecrets(file: string): PackSecrets {
  if (!existsSync(file)) return {};
  const secrets = PackSecretsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  rmSync(file, { force: true });
  return secrets;
}

export class PackHost {
  readonly packs: PackProcess[] = [];
  private readonly enabled = new Map<string, EnabledPack>();
  private readonly inflight = new Map<string, Set<CallRelay>>();
  readonly log: Logger;
  /** The reference pack's name, when this host runs it. */
  readonly reference: string | undefined;
  /** Every pack client's output schema validators (output-validators.ts). */
  private readonly validators = new OutputValidators();
  /** The log messages that reach no caller (unrelayed-log.ts). */
  private readonly unrelayed: UnrelayedLog;

  constructor(options: PackHostOptions) {
    this.log = options.log;
    this.unrelayed = new UnrelayedLog(options.log);
    const secrets = takeSecrets(options.secretsFile);
    const { enabled } = options;
    // The same order the egress bridge gives the packs their ports in (server.ts).
    const names = enabled.map((pack) => pack.name);
    this.reference = options.reference?.pack.name;
    const hosted = [
      ...(options.reference ? [{ ...options.reference, reference: true }] : []),
      ...enabled.map((pack) => ({ pack, packDir: join(options.packsDir, pack.name), reference: false })),
    ];
    for (const { pack, packDir, reference } of hosted) {
      const { workDir, tmpDir } = packDirs(options.dataDir, options.tmpDir, pack.name);
      makePackDirs({ workDir, tmpDir });
      // The reference pack reaches nothing outside the container: no egress port, no proxy.
      const port = reference ? undefined : egressPort({ port: options.egressPort, packs: names }, pack.name)!;
      this.enabled.set(pack.name, pack);
      this.packs.push(
        new PackProcess({
          pack,
          packDir,
          workDir,
          tmpDir,
          egressPort: port,
          confinement: { mode: options.confinement, script: CONFINE_SCRIPT },
          secrets: secrets[pack.name] ?? {},
          proxyEnv: port === undefined ? {} : egressProxyEnv(port),
          callTimeoutMs: options.callTimeoutMs,
          maxMessageBytes: options.maxMessageBytes,
          lineBudget: options.lineBudget ?? PACK_LINE_BUDGET,
          crashThreshold: options.crashThreshold,
          log: options.log,
          wire: (client) => this.wire(pack.name, client),
          validators: this.validators,
        }),
      );
    }
  }

  /** Starts every pack (their listings decide what is served); a pack that fails is logged. */
  async start(): Promise<void> {
    await Promise.all(
      this.packs.map(async (pack) => {
        const client = await pack.ready();
        if ('code' in client) this.log.error({ pack: pack.name, reason: client.message }, 'pack not started');
      }),
    );
    // A process the image's entry started early but launched otherwise than the host did (so not
    // adopted) is not a pack of this runtime: it goes.
    if (discardPrestarted() > 0) this.log.warn('an early-started pack process was not adopted: killed');
    this.servedTools();
  }

  /** Approved tools whose live definition, under the exposed name, has the approved digest. */
  servedTools(): { wire: Tool; served: ServedTool }[] {
    return this.packs.flatMap((process) => this.judged(process));
  }

  /** Judged once per listing (a restart brings a new one), not on every call. */
  private readonly judgements = new WeakMap<PackListing, { wire: Tool; served: ServedTool }[]>();
  private judged(process: PackProcess): { wire: Tool; served: ServedTool }[] {
    const known = this.judgements.get(process.listing);
    if (known) return known;
    const pack = this.enabled.get(process.name)!;
    const live = new Map(process.listing.tools.map((tool) => [tool.name, tool]));
    const out: { wire: Tool; served: ServedTool }[] = [];
    for (const approved of pack.tools) {
      const tool = live.get(approved.name);
      if (!tool) continue;
      const wire = { ...tool, name: approved.exposed };
      // Every field the pack lists: this is the only check of `execution`, which the router's
      // 2026-07-28 tools/list can never carry to its drift guard (asPresentedToRouter).
      if (!matchesPin(wire, approved.digest)) {
        this.noteDrift(pack.name, approved.exposed);
        continue;
      }
      const reference = pack.name === this.reference;
      out.push({ wire, served: { process, pack, approved, reference, definition: tool } });
    }
    this.judgements.set(process.listing, out);
    return out;
  }

  private readonly drifted = new Set<string>();
  private noteDrift(pack: string, exposed: string): void {
    if (this.drifted.has(exposed)) return;
    this.drifted.add(exposed);
    this.log.error({ pack, tool: exposed }, 'pack tool definition differs from the approved one; withheld');
  }

  /** The enabled pack of a process's name. */
  enabledPack(name: string): EnabledPack {
    return this.enabled.get(name)!;
  }

  /** An approved tool with its pack and process, served or not. */
  approvedTool(exposed: string): ServedTool | undefined {
    for (const process of this.packs) {
      const pack = this.enabled.get(process.name)!;
      const approved = pack.tools.find((t) => t.exposed === exposed);
      if (approved) return { process, pack, approved, reference: pack.name === this.reference };
    }
    return undefined;
  }

  servedTool(exposed: string): ServedTool | undefined {
    return this.servedTools().find((tool) => tool.wire.name === exposed)?.served;
  }

  /** Runs `work` with `relay` receiving what the pack sends that belongs to no request of ours. */
  async relaying<T>(pack: string, relay: CallRelay, work: () => Promise<T>): Promise<T> {
    let set = this.inflight.get(pack);
    if (!set) this.inflight.set(pack, (set = new Set()));
    set.add(relay);
    try {
      return await work();
    } finally {
      set.delete(relay);
    }
  }

  /** Requests to a pack in flight that are not tool calls (a resource read, a prompt, a completion). */
  private readonly others = new Map<string, number>();

  /** Runs `work`, a request to `pack` other than a tool call, counted while it is in flight. */
  async counting<T>(pack: string, work: () => Promise<T>): Promise<T> {
    this.others.set(pack, (this.others.get(pack) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.others.get(pack) ?? 1) - 1;
      if (left > 0) this.others.set(pack, left);
      else this.others.delete(pack);
    }
  }

  /**
   * The `traceparent` of the pack's call in flight when it has exactly one, and that one is traced:
   * what the egress bridge names as a link of a connection the pack opens (egress-bridge.ts). With
   * two calls in flight, or a call and another request (a resource read), nobody can tell which one
   * a connection serves, so none is named.
   */
  soleCallTraceparent(pack: string): string | undefined {
    const relays = this.inflight.get(pack);
    if (relays?.size !== 1 || (this.others.get(pack) ?? 0) > 0) return undefined;
    const [relay] = relays;
    return relay?.traceparent;
  }

  /**
   * Over stdio a pack's log message or request names no request of ours: it reaches a caller only
   * when exactly one call to that pack is in flight, the only call it can have been emitted during.
   * With several (maybe different users' calls), which one it belongs to is unknown; with none
   * (a timer's message between calls) there is no caller: a log message then stays in the runtime's
   * log, a request to the client fails.
   */
  private readonly progress = new Map<string, (params: Record<string, unknown>) => void>();

  /**
   * Runs `work` with the pack's progress notifications for `token` going to `onProgress`. The
   * runtime picks the token and routes by it itself, independent of the SDK's per-request progress
   * handlers.
   */
  async withProgress<T>(
    token: string,
    onProgress: (params: Record<string, unknown>) => void,
    work: () => Promise<T>,
  ): Promise<T> {
    this.progress.set(token, onProgress);
    try {
      return await work();
    } finally {
      this.progress.delete(token);
    }
  }

  private wire(pack: string, client: Client): void {
    client.setNotificationHandler('notifications/progress', (notification) => {
      const { progressToken, ...rest } = notification.params;
      this.progress.get(String(progressToken))?.(rest);
    });
    client.setNotificationHandler('notifications/message', (notification) => {
      const relays = [...(this.inflight.get(pack) ?? [])];
      if (relays.length === 1) return relays[0]!.notify(notification);
      // Kept where a pack's stderr goes, truncated alike and bounded: the operator's record of what
      // the pack said to nobody (a timer's message between calls, say).
      this.unrelayed.note(pack, relays.length, notification.params);
    });
    const forward =
      (method: 'elicitation/create' | 'sampling/createMessage') => (request: { params: unknown }) => {
        const relays = [...(this.inflight.get(pack) ?? [])];
        if (relays.length !== 1) {
          throw new Error(
            `${method} needs exactly one call in flight to pack ${pack}; there are ${relays.length}`,
          );
        }
        return relays[0]!.request(method, request.params);
      };
    client.setRequestHandler('elicitation/create', forward('elicitation/create') as never);
    client.setRequestHandler('sampling/createMessage', forward('sampling/createMessage') as never);
  }

  async stop(): Promise<void> {
    await Promise.all(this.packs.map((pack) => pack.stop()));
  }
}
