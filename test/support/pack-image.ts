// Test images with packs: FROM the runtime image under test, the fixture packs copied under
// /opt/bulkhead/packs/ with an enabled.json whose digests come from starting each pack on the host
// and listing its tools (what approval records), built offline (docker build --network none) under
// a tag of the test's namespace. And a caller that talks to a runtime over its socket the way the
// router does: an SDK client whose every request carries a call assertion signed over its body.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type { EnabledPack } from '../../kernel/packs/enabled-packs.ts';
import { exposedName } from '../../kernel/packs/pack-naming.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import type { CallSigner } from '../../router/dispatch/call-signer.ts';
import { RUNTIME_IMAGE } from './namespace.ts';

export const FIXTURE_PACKS = join(import.meta.dirname, 'fixtures', 'packs');
const run = promisify(execFile);

interface PackManifest {
  name: string;
  version: string;
  command: string[];
  secrets?: string[];
  idempotency?: 'runtime' | 'pack';
  tools: Record<string, { effect: 'read' | 'create' | 'update' | 'delete' }>;
}

/** The pack's tools/list when started on the host; empty when it does not start (a crash loop). */
async function listOnHost(dir: string, manifest: PackManifest): Promise<{ name: string }[]> {
  const [command, ...args] = manifest.command;
  const client = new Client({ name: 'pack-approval', version: '1.0.0' });
  const cwd = await mkdtemp(join(tmpdir(), 'pack-approval-'));
  // Laid out as in the image: the stdio loop next to the pack and in its directory.
  const packDir = join(cwd, 'pack');
  await cp(dir, packDir, { recursive: true });
  for (const at of [cwd, packDir])
    await cp(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(at, 'stdio-server.mjs'));
  const transport = new StdioClientTransport({
    command: command!,
    args: args.map((arg) => (arg.endsWith('.mjs') ? join(packDir, arg) : arg)),
    cwd,
    stderr: 'ignore',
  });
  try {
    await client.connect(transport, { timeout: 5_000 });
    return (await client.listTools()).tools;
  } catch {
    return [];
  } finally {
    await client.close().catch(() => undefined);
    await rm(cwd, { recursive: true, force: true });
  }
}

/** enabled.json's entry for a fixture pack; `drift` names tools approved with a wrong digest. */
export async function approvePack(name: string, drift: string[] = []): Promise<EnabledPack> {
  const dir = join(FIXTURE_PACKS, name);
  const manifest = JSON.parse(await readFile(join(dir, 'bulkhead-pack.json'), 'utf8')) as PackManifest;
  const live = new Map((await listOnHost(dir, manifest)).map((tool) => [tool.name, tool]));
  return {
    name: manifest.name,
    version: manifest.version,
    command: manifest.command,
    secrets: manifest.secrets ?? [],
    idempotency: manifest.idempotency ?? 'runtime',
    tools: Object.entries(manifest.tools).map(([tool, statement]) => {
      const exposed = exposedName(manifest.name, tool);
      const definition = live.get(tool);
      const digest =
        definition && !drift.includes(tool)
          ? definitionDigest({ ...definition, name: exposed })
          : '0'.repeat(64);
      return { name: tool, exposed, effect: statement.effect, digest };
    }),
  };
}

/** Builds `bulkhead/runtime-packs:<tag>` FROM the runtime image with the given packs enabled. */
export async function buildPackImage(options: {
  tag: string;
  packs: EnabledPack[];
  env?: Record<string, string>;
}): Promise<string> {
  const context = await mkdtemp(join(tmpdir(), 'pack-image-'));
  try {
    await cp(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(context, 'packs', 'stdio-server.mjs'));
    for (const pack of options.packs) {
      await cp(join(FIXTURE_PACKS, pack.name), join(context, 'packs', pack.name), { recursive: true });
      // Next to the pack as well, for a pack that is whole in its own directory (the fetcher).
      await cp(
        join(FIXTURE_PACKS, 'stdio-server.mjs'),
        join(context, 'packs', pack.name, 'stdio-server.mjs'),
      );
    }
    await writeFile(
      join(context, 'packs', 'enabled.json'),
      JSON.stringify({ packs: options.packs }, null, 2),
    );
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `ENV ${k}=${v}\n`);
    await writeFile(
      join(context, 'Dockerfile'),
      `FROM ${RUNTIME_IMAGE}\nCOPY packs/ /opt/bulkhead/packs/\n${env.join('')}`,
    );
    const image = `bulkhead/runtime-packs:${options.tag}`;
    await run('docker', ['build', '--network', 'none', '-q', '-t', image, context], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    return image;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

export async function removeImage(image: string): Promise<void> {
  await run('docker', ['rmi', '-f', image]).catch(() => undefined);
}

/** An SDK client on a runtime's socket, every request signed like the router signs it. */
export async function runtimeClient(options: {
  socketPath: string;
  sign: CallSigner;
  context: CallContext;
  era?: 'modern' | 'legacy';
  /** Hand `input_required` answers back instead of fulfilling them (as the router does). */
  manualInput?: boolean;
  /** Sees each response's headers (the runtime's spans header of a traced call). */
  onResponse?: (headers: Headers) => void;
}): Promise<Client> {
  const agent = new Agent({ connect: { socketPath: options.socketPath } });
  const client = new Client(
    { name: 'test-router', version: '1.0.0' },
    {
      ...(options.era === 'legacy' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } }),
      ...(options.manualInput ? { inputRequired: { autoFulfill: false } } : {}),
      capabilities: { elicitation: {} },
    },
  );
  const transport = new StreamableHTTPClientTransport(new URL('http://tenant/mcp'), {
    fetch: async (url, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      const headers = new Headers(init?.headers);
      headers.set(CALL_ASSERTION_HEADER, await options.sign(options.context, body));
      const response = await undiciFetch(url, {
        ...(init as UndiciRequestInit),
        headers: Object.fromEntries(headers),
        dispatcher: agent,
      });
      options.onResponse?.(response.headers);
      return response;
    },
  });
  await client.connect(transport);
  return client;
}

/** The proxy variables a pack process gets (runtime-image/src/egress-bridge.ts), in sorted order. */
export const PROXY_VARIABLES = [
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NODE_OPTIONS',
  'NODE_USE_ENV_PROXY',
  'http_proxy',
  'https_proxy',
];
