// The MCP Inspector's web interface as a user starts it (`mcp-inspector --web --server-url ...`), and
// Debian's Chromium to drive it through playwright-core. Nothing is configured for Bulkhead: the
// Inspector gets the router's /mcp URL and finds its way to the IdP by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from './stack.ts';

/** Where Debian's `chromium` package installs the browser (.ci/setup.sh installs it). */
export const CHROMIUM = '/usr/bin/chromium';
const STARTUP_TIMEOUT_MS = 30_000;

export interface InspectorWeb {
  /** The page to open: carries the Inspector's API token, as the one it prints does. */
  url: string;
  close(): Promise<void>;
}

export async function startInspectorWeb(options: {
  serverUrl: string;
  era: 'legacy' | 'modern';
}): Promise<InspectorWeb> {
  const home = await mkdtemp(join(tmpdir(), 'bulkhead-inspector-web-'));
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      'node_modules/.bin/mcp-inspector',
      '--web',
      '--transport',
      'http',
      '--server-url',
      options.serverUrl,
      '--protocol-era',
      options.era,
    ],
    {
      env: {
        ...process.env,
        HOME: home,
        CLIENT_PORT: String(port),
        MCP_SANDBOX_PORT: String(await freePort()),
        MCP_INSPECTOR_API_TOKEN: token,
        MCP_AUTO_OPEN_ENABLED: 'false',
        // Tokens stay in this process's memory: nothing written to the test machine's keychain.
        MCP_INSPECTOR_SECRET_STORE: 'memory',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const close = () => stop(child).finally(() => rm(home, { recursive: true, force: true }));
  try {
    await waitForOutput(child, 'is up and running');
  } catch (error) {
    await close();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/?MCP_INSPECTOR_API_TOKEN=${token}`, close };
}

/** Headless Chromium; as root (CI containers) Chromium's own sandbox needs user namespaces it lacks. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

function waitForOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error('timed out')), STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) done();
    };
    const onExit = (code: number | null) => fail(new Error(`exited with ${code}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    }
    function done() {
      cleanup();
      resolve();
    }
    function fail(error: Error) {
      cleanup();
      reject(new Error(`the Inspector did not start (${error.message}):\n${output}`));
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
