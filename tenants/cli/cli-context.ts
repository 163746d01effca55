// What every CLI command shares: the control plane of the installation its environment names
// (tenants/cli/config.ts). Opened per command, so `--help` needs neither Redis nor a supervisor.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { openControlPlane, type OpenedControlPlane } from '../control-plane/context.ts';
import { cliSettings } from './config.ts';

export interface CliContext extends OpenedControlPlane {
  devDir: string;
}

export async function openContext(): Promise<CliContext> {
  const settings = cliSettings();
  const controlPlane = await openControlPlane({
    redisUrl: settings.redisUrl,
    namespace: settings.namespace,
    secretsKeyFile: settings.secretsKeyFile ?? join(settings.devDir, 'secrets.key'),
    actor: `cli:${settings.actor ?? userInfo().username}`,
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
