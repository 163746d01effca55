// What every CLI command shares: the control plane of the installation its environment names
// (tenants/cli/config.ts). Opened per command, so `--help` needs neither Redis nor a supervisor.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { openControlPlane, type OpenedControlPlane } from '../control-plane/context.ts';
import { cliSettings } from './config.ts';
import type { UntakenNotice } from '../../supervisor/client/job-request.ts';

export interface CliContext extends OpenedControlPlane {
  devDir: string;
}

/** How often a person at the CLI hears that its job still waits for a supervisor. */
export const UNTAKEN_NOTICE_MS = 5_000;

/**
 * The line a person at the CLI reads while a job waits for a supervisor to take it, on stderr
 * (stdout may carry a result a script reads): without it, a command whose installation has no
 * supervisor running waited silently until its timeout (2 minutes for a runtime, 10 for a pack).
 */
export function untakenNotice(namespace: string, write: (line: string) => void): UntakenNotice {
  return {
    everyMs: UNTAKEN_NOTICE_MS,
    notice: ({ job, waitedMs, leftMs, workers }) => {
      const why =
        workers === 0
          ? `no supervisor serves namespace "${namespace}": start one, or check BULKHEAD_NAMESPACE and BULKHEAD_REDIS_URL`
          : 'the supervisor is busy with other jobs';
      write(
        `waiting for the supervisor: the ${job} job is not taken after ${Math.round(waitedMs / 1000)} s (${why}); giving up in ${Math.round(leftMs / 1000)} s`,
      );
    },
  };
}

export async function openContext(): Promise<CliContext> {
  const settings = cliSettings();
  const controlPlane = await openControlPlane({
    redisUrl: settings.redisUrl,
    namespace: settings.namespace,
    secretsKeyFile: settings.secretsKeyFile ?? join(settings.devDir, 'secrets.key'),
    actor: `cli:${settings.actor ?? userInfo().username}`,
    untaken: untakenNotice(settings.namespace, (line) => process.stderr.write(`${line}\n`)),
  });
  return Object.assign(controlPlane, { devDir: settings.devDir });
}

/** Runs `use` with an open context and closes it afterwards, also when `use` throws. */
export async function withContext<T>(use: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openContext();
  try {
    return await use(ctx);
  } finally {
    await ctx.close();
  }
}
