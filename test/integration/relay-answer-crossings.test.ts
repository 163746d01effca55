// The requests the router relays to a tenant's runtime that may ask the client a question
// (prompts/get, resources/read: router/mcp/relay-handlers.ts) are checked like tools/call
// (runtime-answer-crossings.test.ts): a 2026-07-28 request is asked only what its own declared
// capabilities answer (router/mcp/input-rounds.ts). Here a process of the tenant takes its runtime
// over (test/support/answering-runtime.ts) and answers both with an `input_required` result asking
// an elicitation, through the real router in this process, to stock SDK v2 clients. The tenant
// enables the fixture pack `prompter`, built and approved like an operator's: prompts/get reaches
// the runtime only for a prompt an approval of the tenant's pins holds.
import { Client, ProtocolErrorCode, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { asPresentedToRouter, wireTool } from '../../kernel/tools/tool-definition.ts';
import { UNANSWERED } from '../../kernel/wire/input-answers.ts';
import { startAnsweringRuntime } from '../support/answering-runtime.ts';
import { enableFixturePack } from '../support/fixture-pack.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { containerName } from '../support/mcp-client.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';

const TENANT = 'asking';
/** A resource whose read has the runtime say which answers it was sent, by method. */
const TOLD_URI = 'told://answers';

/**
 * The tenant's runtime: prompts/get and resources/read ask the caller's name (the question's message
 * names the method), or to sign in on a page, until a retry carries answers, then complete with the
 * answers as text.
 */
const SCRIPT = String.raw`(() => {
  const told = [];
  return (message) => {
    const { id, method, params } = message;
    const complete = (result) => [{ jsonrpc: '2.0', id, result: { resultType: 'complete', ...result } }];
    if (method === 'resources/read' && params.uri === ${JSON.stringify(TOLD_URI)})
      return complete({ contents: [{ uri: params.uri, text: JSON.stringify(told) }] });
    if (method !== 'prompts/get' && method !== 'resources/read') return complete({});
    const answers = params.inputResponses;
    if (answers) {
      told.push({ method, answers });
      const text = JSON.stringify(answers);
      return complete(method === 'prompts/get'
        ? { messages: [{ role: 'user', content: { type: 'text', text } }] }
        : { contents: [{ uri: params.uri, text }] });
    }
    // A sign-in page (URL mode) for the prompt argument mode=url or the resource notes://url.
    const url = params.arguments?.mode === 'url' || params.uri === 'notes://url';
    const question = url
      ? { mode: 'url', message: 'Sign in, for ' + method, url: 'https://example.com/sign-in', elicitationId: 'e1' }
      : { message: 'Your name, for ' + method + '?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } };
    return [{ jsonrpc: '2.0', id, result: { resultType: 'input_required',
      inputRequests: { who: { method: 'elicitation/create', params: question } } } }];
  };
})()`;

let lab: PackLab;
let stack: TestStack;
let redis: Redis;
let audit: AuditTrail;
let hostile: HostileProcess | undefined;

beforeAll(async () => {
  lab = await openPackLab('relay-crossings');
  ({ stack } = lab);
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  await stack.onboard(TENANT);
  const version = `0.0.0-relay-${stack.ns.namespace.slice(-6)}`;
  const { dir, manifest } = await lab.copyPack('test/support/fixtures/packs/prompter', version);
  await lab.buildAndApprove(dir, manifest);
  const pin = { name: manifest.name, version };
  const approval = await lab.cp.packRegistry.require(pin);
  await enableFixturePack({ stack, cp: lab.cp, tenant: TENANT, pin });
  await lab.noteTenantImage(TENANT);
  // The runtime lists the approved tools, so the caller reaches the pack (and its prompts).
  const uid = (await stack.registry.require(TENANT)).uid;
  const container = stack.ns.docker.getContainer(containerName(stack, TENANT));
  const tools = [
    ...RECORDS_TOOLS.map((definition) => wireTool(definition)),
    ...approval.tools.map((t) => asPresentedToRouter(t.definition)),
  ];
  hostile = await startAnsweringRuntime(container, { uid, tools, script: SCRIPT });
}, 420_000);

afterAll(async () => {
  hostile?.stop();
  redis?.disconnect();
  await lab?.close();
});

/** A stock 2026-07-28 client of the tenant's agent; `fetch`, the transport's own option. */
async function modernClient(
  capabilities: { elicitation?: { form?: Record<string, never> } },
  fetch?: typeof globalThis.fetch,
): Promise<Client> {
  const token = await stack.agentToken(TENANT);
  const client = new Client(
    { name: 'relay-crossings', version: '1' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
      ...(fetch ? { fetch } : {}),
    }),
  );
  return client;
}

/**
 * The relayed request of `method` a stock client makes, by its own SDK method; `url`: one the
 * runtime answers with a URL-mode question.
 */
function request(client: Client, method: 'prompts/get' | 'resources/read', url = false): Promise<string> {
  if (method === 'prompts/get')
    return client
      .getPrompt({ name: 'prompter_steady', ...(url ? { arguments: { mode: 'url' } } : {}) })
      .then((got) => (got.messages[0]?.content as { text: string }).text);
  return client
    .readResource({ uri: url ? 'notes://url' : 'notes://asked' })
    .then((read) => (read.contents[0] as { text: string }).text);
}

/** What the runtime was sent as answers so far, by method. */
async function told(): Promise<{ method: string; answers: unknown }[]> {
  const client = await modernClient({});
  try {
    const read = await client.readResource({ uri: TOLD_URI });
    return JSON.parse((read.contents[0] as { text: string }).text) as { method: string; answers: unknown }[];
  } finally {
    await client.close();
  }
}

const METHODS = ['prompts/get', 'resources/read'] as const;

describe("a relayed request's questions", () => {
  it.each(METHODS)(
    'cannot reach a 2026-07-28 client whose %s did not declare elicitation: refused before the question leaves, audited, the runtime told',
    async (method) => {
      // A stock client that declares no elicitation, the router's answers recorded as they arrive.
      const answers: { status: number; body: string }[] = [];
      const recording: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        answers.push({ status: response.status, body: await response.clone().text() });
        return response;
      };
      const client = await modernClient({}, recording);
      const refusals = async () =>
        (await audit.entries(TENANT)).filter(
          (e) => e.tool === method && e.error_code === 'input_request_refused',
        );
      const before = (await refusals()).length;
      try {
        const refused = await request(client, method).catch((error: Error & { code?: unknown }) => error);
        expect(refused).toMatchObject({
          code: ProtocolErrorCode.MissingRequiredClientCapability,
          data: { requiredCapabilities: { elicitation: { form: {} } } },
          message: expect.stringMatching(/elicitation\/create, which the client did not declare/),
        });
        const answer = answers.at(-1)!;
        expect(answer.status).toBe(400);
        expect(JSON.parse(answer.body)).toMatchObject({
          error: {
            code: ProtocolErrorCode.MissingRequiredClientCapability,
            data: { code: 'input_request_refused', error_class: 'permanent' },
          },
        });
        // No answer of the router's carried the question.
        const bodies = answers.map((a) => a.body).join('\n');
        expect(bodies).not.toContain('input_required');
        expect(bodies).not.toContain('Your name');
        expect(await refusals()).toHaveLength(before + 1);
        // The runtime was told no answer will come.
        expect(await told()).toContainEqual({ method, answers: { who: UNANSWERED } });
      } finally {
        await client.close();
      }
    },
  );

  it.each(METHODS)(
    'asks a 2026-07-28 client what its %s declares, by elicitation mode: it answers and the request completes',
    async (method) => {
      const asked: string[] = [];
      // Declares form-mode elicitation only: a URL-mode question is refused by the router, naming the mode.
      const client = await modernClient({ elicitation: { form: {} } });
      client.setRequestHandler('elicitation/create', (question) => {
        asked.push(question.params.message);
        return { action: 'accept', content: { name: 'Ada' } };
      });
      try {
        const refused = await request(client, method, true).catch((error: Error) => error);
        expect(refused).toMatchObject({
          code: ProtocolErrorCode.MissingRequiredClientCapability,
          data: { requiredCapabilities: { elicitation: { url: {} } } },
          message: expect.stringMatching(/elicitation\/create in URL mode, which the client did not declare/),
        });
        expect(asked).toEqual([]);
        // The form-mode question it is asked, answers, and the request completes with its answer.
        const text = await request(client, method);
        expect(asked).toEqual([`Your name, for ${method}?`]);
        expect(JSON.parse(text)).toEqual({ who: { action: 'accept', content: { name: 'Ada' } } });
      } finally {
        await client.close();
      }
    },
  );
});
