// The runtime's pack host on this machine, without a container: the fixture packs copied under a
// test's directory with an enabled.json of the given packs (in that order), Landlock confinement,
// and the runtime's settings unless a test needs others.
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerContext } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import type { EnabledPack } from '../../kernel/packs/enabled-packs.ts';
import { callPackTool } from '../../runtime-image/src/packs/pack-calls.ts';
import { InputExchanges, type PackAnswer } from '../../runtime-image/src/packs/pack-exchanges.ts';
import { PackHost, readEnabledPacks, type PackHostOptions } from '../../runtime-image/src/packs/pack-host.ts';
import type { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { FIXTURE_PACKS } from './pack-image.ts';

/** A pack host (not started) for `packs`; the secrets file, unless given, is one that is absent. */
export async function hostPacks(
  dir: string,
  packs: EnabledPack[],
  options: Partial<PackHostOptions> = {},
): Promise<PackHost> {
  await cp(FIXTURE_PACKS, join(dir, 'packs'), { recursive: true });
  await writeFile(join(dir, 'packs', 'enabled.json'), JSON.stringify({ packs }));
  return new PackHost({
    packsDir: join(dir, 'packs'),
    enabled: readEnabledPacks(join(dir, 'packs')),
    egressPort: 3128,
    secretsFile: join(dir, 'none.json'),
    dataDir: join(dir, 'data'),
    tmpDir: join(dir, 'tmp'),
    confinement: 'landlock',
    callTimeoutMs: 5_000,
    maxMessageBytes: 1024 * 1024,
    crashThreshold: 3,
    log: pino({ level: 'silent' }),
    ...options,
  });
}

/**
 * The runtime's call path (callPackTool) to `host`'s served tools, as the runtime's server runs it
 * for one caller who is never asked anything; `relayed` counts what reached the caller.
 */
export function hostCaller(
  host: PackHost,
  keys: PackKeys,
  callTimeoutMs: number,
): { call: (exposed: string) => Promise<PackAnswer>; relayed: () => number } {
  const idle = new AbortController().signal;
  let relayed = 0;
  const ctx = {
    mcpReq: { signal: idle, notify: () => Promise.resolve(void relayed++), requestState: () => undefined },
  } as unknown as ServerContext;
  const options = {
    host,
    keys,
    callTimeoutMs,
    connection: idle,
    exchanges: new InputExchanges(),
    actor: 'test',
  };
  return {
    call: (exposed) => callPackTool(host.servedTool(exposed)!, { arguments: {} }, ctx, options),
    relayed: () => relayed,
  };
}
