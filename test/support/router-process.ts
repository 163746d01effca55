// The stack's router as a separate process (`node router/main.ts`), on the stack's installation,
// issuer and resource URL: for tests that measure the router process itself (its resident memory).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { REDIS_URL } from './namespace.ts';
import { freePort, type TestStack } from './stack.ts';

const MAIN = fileURLToPath(new URL('../../router/main.ts', import.meta.url));

export interface RouterProcess {
  pid: number;
  mcpUrl: string;
  /** Resident set size of the process now, in bytes (VmRSS). */
  rss(): Promise<number>;
  /** The process's last log lines (for failure messages). */
  logTail(): string;
  /** Resolves with the exit code once the process has exited (null: ended by a signal). */
  exited: Promise<number | null>;
  close(): Promise<void>;
}

export async function startRouterProcess(
  stack: TestStack,
  env: Record<string, string> = {},
  /** Node's (and V8's) own flags for the process, before the router's entry. */
  options: { nodeFlags?: string[] } = {},
): Promise<RouterProcess> {
  const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeFlags ?? []), MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      BULKHEAD_ISSUER: stack.idp.issuer,
      BULKHEAD_RESOURCE_URL: stack.mcpUrl,
      BULKHEAD_ROUTER_PORT: String(port),
      BULKHEAD_ROUTER_PRIVATE_KEY_FILE: keys.privateKeyFile,
      BULKHEAD_NAMESPACE: stack.ns.namespace,
      BULKHEAD_REDIS_URL: REDIS_URL,
      BULKHEAD_CLOCK_TOLERANCE_SECONDS: '5',
      // info: the start waits for the "router listening" line.
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Drained continuously (a full pipe would stall the router); only the tail is kept. The router
  // logs "router listening" once its server is bound: the start waits for that line, or the exit.
  let tail = '';
  let listening: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    listening = resolve;
    child.once('exit', () => reject(new Error(`router process exited: ${tail}`)));
  });
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-8_000);
    if (tail.includes('"msg":"router listening"')) listening();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const mcpUrl = `http://127.0.0.1:${port}/mcp`;
  await started;
  const pid = child.pid ?? -1;
  return {
    pid,
    mcpUrl,
    async rss() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      if (!kb) throw new Error(`no VmRSS for ${pid}`);
      return Number(kb) * 1024;
    },
    logTail: () => tail,
    exited,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
