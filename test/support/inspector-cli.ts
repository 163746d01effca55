// The MCP Inspector's CLI mode as a script runs it (`mcp-inspector --cli URL --transport http
// --header "Authorization: Bearer ..." --method ...`), with a home directory of its own: each call is
// one run of the unmodified Inspector, its JSON output parsed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface InspectorCli {
  /** One run of the Inspector with these arguments after the server's (`--method tools/list`, ...). */
  run(...args: string[]): Promise<Record<string, unknown>>;
  /** Removes its home directory. */
  close(): Promise<void>;
}

export async function inspectorCli(options: { mcpUrl: string; token: string }): Promise<InspectorCli> {
  const home = await mkdtemp(join(tmpdir(), 'bulkhead-inspector-'));
  return {
    async run(...args) {
      const { stdout } = await run(
        process.execPath,
        [
          'node_modules/.bin/mcp-inspector',
          '--cli',
          options.mcpUrl,
          '--transport',
          'http',
          '--header',
          `Authorization: Bearer ${options.token}`,
          ...args,
        ],
        { env: { ...process.env, HOME: home }, timeout: 60_000 },
      );
      return JSON.parse(stdout) as Record<string, unknown>;
    },
    close: () => rm(home, { recursive: true, force: true }),
  };
}
