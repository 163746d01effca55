// The packs as the runtime's server sees them: started once at boot (none when the image enables
// none), then, per request, the tools, handlers and capabilities they add to the MCP server.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import type { ExtraTools } from '../tool-server.ts';
import { callPackTool, refusalResult } from './pack-calls.ts';
import { InputExchanges } from './pack-exchanges.ts';
import { PackHost, type PackHostOptions } from './pack-host.ts';
import { PackKeys } from './pack-keys.ts';
import { PackReach } from './pack-reach.ts';
import { installPackSurface, PACK_CAPABILITIES } from './pack-surface.ts';
import type { CallTrace } from '../tracing/call-tracer.ts';
import { inPackSpan, startPackSpan } from '../tracing/pack-span.ts';

export interface PackRuntimeOptions extends Omit<PackHostOptions, 'log'> {
  idempotencyWindowMs: number;
}

export interface PackRequest {
  /** Aborts when the caller goes. */
  connection: AbortSignal;
  /** The request's trace, when the router traces it. */
  trace?: CallTrace | undefined;
  /** The caller's name for the reference pack (pack-calls.ts). */
  actor: string;
  /** The packs the router's signed call context says the caller may reach (pack-reach.ts). */
  packs?: readonly string[] | undefined;
}

export interface PackRuntime {
  host: PackHost;
  /** What one request's MCP server serves from the packs. */
  forRequest(request: PackRequest): ExtraTools;
  stop(): Promise<void>;
}

export async function startPacks(options: PackRuntimeOptions, log: Logger): Promise<PackRuntime | undefined> {
  const host = new PackHost({ ...options, log });
  if (host.packs.length === 0) return undefined;
  const keys = new PackKeys(join(options.dataDir, 'pack-keys.db'), {
    idempotencyWindowMs: options.idempotencyWindowMs,
  });
  await host.start();
  const { callTimeoutMs } = options;
  const exchanges = new InputExchanges();
  const operatorPacks = host.packs.some((pack) => pack.name !== host.reference);
  return {
    host,
    forRequest: ({ connection, trace: requestTrace, actor, packs }) => ({
      // Resources, prompts and the rest come from operator packs; the reference pack lists tools only.
      capabilities: operatorPacks ? PACK_CAPABILITIES : {},
      tools: () => host.servedTools().map((tool) => tool.wire),
      call: (name, params, ctx, trace) => {
        const approved = host.approvedTool(name);
        if (!approved) return undefined;
        const { process, pack } = approved;
        const span = startPackSpan(trace, {
          pack: pack.name,
          version: pack.version,
          method: 'tools/call',
          tool: { name: approved.approved.name, exposed: name },
        });
        return inPackSpan(span, async () => {
          // A pack that is down (or never came up) lists nothing: start it before judging its tools.
          let served = host.servedTool(name);
          if (!served) {
            if (process.pid === undefined) span?.started();
            const ready = await process.ready();
            if ('code' in ready) return refusalResult(ready);
            served = host.servedTool(name);
          }
          if (!served) {
            return toolError(
              'tool_withheld',
              `${name} is withheld: its definition in the pack is not the approved one`,
            );
          }
          return callPackTool(served, params, ctx, {
            host,
            keys,
            callTimeoutMs,
            connection,
            exchanges,
            actor,
            ...(span ? { span } : {}),
          });
        });
      },
      install: (server) => {
        if (!operatorPacks) return;
        installPackSurface(server, {
          host,
          reach: new PackReach(host.packs, packs),
          callTimeoutMs,
          connection,
          ...(requestTrace ? { trace: requestTrace } : {}),
        });
      },
    }),
    async stop() {
      await host.stop();
      keys.close();
    },
  };
}
