// Runs the operator CLI (or, with `entry`, the development CLI) as a separate process, as an operator
// would, against a test namespace.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  env: { namespace: string; devDir: string; extra?: Record<string, string>; entry?: string },
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [env.entry ?? 'tenants/cli/main.ts', ...args], {
      env: {
        ...process.env,
        BULKHEAD_NAMESPACE: env.namespace,
        BULKHEAD_DEV_DIR: env.devDir,
        BULKHEAD_ACTOR: 'test-operator',
        ...env.extra,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 90_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a script or an entry as an operator would, for its --help and its refusals: never throws. */
export async function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/**
 * The audit commands of the operator CLI run offline, as an operator reads the sealed segments: no
 * Redis (a port nothing listens on), the segments under `<dir>/audit`, their public key.
 */
export function offlineAuditCli(options: {
  namespace: string;
  dir: string;
  publicKeyFile: string;
}): (...args: string[]) => Promise<CliResult> {
  return (...args) =>
    runCli(
      {
        namespace: options.namespace,
        devDir: join(options.dir, 'dev'),
        extra: {
          BULKHEAD_REDIS_URL: 'redis://127.0.0.1:1',
          BULKHEAD_AUDIT_DIR: join(options.dir, 'audit'),
          BULKHEAD_AUDIT_PUBLIC_KEY_FILE: options.publicKeyFile,
        },
      },
      args,
    );
}
