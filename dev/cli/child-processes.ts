// Starts the stack's processes as children, logs each to its own file, and stops them together.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ManagedChild {
  name: string;
  logFile: string;
  process: ChildProcess;
}

export class ChildGroup {
  private readonly children: ManagedChild[] = [];
  private stopping = false;
  private readonly logDir: string;
  private readonly onUnexpectedExit: (child: ManagedChild, code: number | null) => void;

  constructor(options: {
    logDir: string;
    onUnexpectedExit: (child: ManagedChild, code: number | null) => void;
  }) {
    this.logDir = options.logDir;
    this.onUnexpectedExit = options.onUnexpectedExit;
  }

  start(name: string, script: string, env: Record<string, string>): ManagedChild {
    const logFile = join(this.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'w' });
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const managed = { name, logFile, process: child };
    child.on('exit', (code) => {
      if (!this.stopping) this.onUnexpectedExit(managed, code);
    });
    this.children.push(managed);
    return managed;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children].reverse().map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.process.kill('SIGKILL'), 8_000);
            child.process.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.process.kill('SIGTERM');
          }),
      ),
    );
  }
}

export async function tail(file: string, lines = 20): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // Each try is bounded: a server that accepts and never answers must not stall the wait.
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
