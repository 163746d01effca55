// The router's side of the relay to a tenant's packs: the seal on multi-round-trip state, the open
// questions to 2025 clients, and which packs a caller reaches.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { ClientRequests, isClientAnswer } from '../../router/mcp/client-requests.ts';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import { answerInputRounds, declaredQuestions, openedState } from '../../router/mcp/input-rounds.ts';
import { packOfExposed } from '../../kernel/packs/pack-naming.ts';
import { isUnanswered, UNANSWERED } from '../../kernel/wire/input-answers.ts';
import { logLevelPasses } from '../../router/mcp/relay-handlers.ts';
import { createRequestStateSeal } from '../../router/mcp/request-state.ts';

const alice = { issuer: 'https://idp-a.example/', tenant: 'acme', user: 'alice', agent: 'agent-1' };
const acme = { createdAt: '2026-12-01T10:00:00.000Z' };
const binding = { principal: alice, tenant: acme, request: 'tools/call:files_write' };

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isBulkheadError(error, 'request_state_invalid')) return error.message;
    throw error;
  }
  throw new Error('not refused');
}

describe('request state seal', () => {
  const key = randomBytes(32);
  it('gives the runtime its own state back for the same caller and request', () => {
    const seal = createRequestStateSeal(key);
    expect(seal.open(seal.seal('pending-7', binding), binding)).toBe('pending-7');
  });
  it('refuses an edited, foreign, misdirected or expired state', () => {
    let now = 1_000;
    const seal = createRequestStateSeal(key, () => now);
    const sealed = seal.seal('pending-7', binding);
    const [payload, tag] = sealed.split('.') as [string, string];
    const edited = Buffer.from(payload, 'base64url').toString().replace('pending-7', 'pending-8');
    expect(refusal(() => seal.open(`${Buffer.from(edited).toString('base64url')}.${tag}`, binding))).toMatch(
      /not a state this router issued/,
    );
    expect(refusal(() => createRequestStateSeal(randomBytes(32)).open(sealed, binding))).toMatch(
      /not a state/,
    );
    const bob = { ...binding, principal: { ...alice, user: 'bob' } };
    expect(refusal(() => seal.open(sealed, bob))).toMatch(/another caller/);
    // Another of the tenant's issuers, whose alice (and client agent-1) is somebody else.
    const elsewhere = { ...binding, principal: { ...alice, issuer: 'https://idp-b.example/' } };
    expect(refusal(() => seal.open(sealed, elsewhere))).toMatch(/another caller/);
    expect(refusal(() => seal.open(sealed, { ...binding, request: 'tools/call:files_delete' }))).toMatch(
      /another request/,
    );
    // The same caller's names at a tenant offboarded and onboarded again under the id since.
    const again = { ...binding, tenant: { createdAt: '2026-12-01T10:05:00.000Z' } };
    expect(refusal(() => seal.open(sealed, again))).toMatch(/earlier tenant/);
    now += 11 * 60_000;
    expect(refusal(() => seal.open(sealed, binding))).toMatch(/expired/);
    expect(refusal(() => openedState(seal, binding, 42))).toMatch(/not a string/);
  });
  it('seals a 2026-07-28 answer even when the runtime kept no state, binding the retry', async () => {
    const seal = createRequestStateSeal(key);
    const question = {
      resultType: 'input_required' as const,
      inputRequests: { q: { method: 'elicitation/create', params: {} } },
    };
    const answer = (await answerInputRounds(question, {
      seal,
      binding,
      client: { era: 'modern', asks: ['elicitation/create'] },
      retry: () => Promise.reject(new Error('a 2026 client retries itself')),
    })) as { requestState: string };
    expect(openedState(seal, binding, answer.requestState)).toBeUndefined();
    expect(refusal(() => openedState(seal, { ...binding, request: 'x' }, answer.requestState))).toMatch(
      /another request/,
    );
  });
});

describe('questions to 2025 clients', () => {
  function fakeServer(sent: unknown[]) {
    return { transport: { send: (message: unknown) => (sent.push(message), Promise.resolve()) } } as never;
  }
  it('hands an answer only to the session that was asked', async () => {
    const sent: { id: string }[] = [];
    const questions = new ClientRequests();
    const asked = questions.ask({
      server: fakeServer(sent),
      session: 's-1',
      relatedRequestId: 3,
      request: { method: 'elicitation/create', params: { message: 'name?' } },
      timeoutMs: 5_000,
    });
    await Promise.resolve();
    const id = sent[0]!.id;
    expect(questions.deliver('s-2', { jsonrpc: '2.0', id, result: { action: 'accept' } })).toBe(false);
    expect(questions.deliver('s-1', { jsonrpc: '2.0', id, result: { action: 'accept' } })).toBe(true);
    await expect(asked).resolves.toEqual({ action: 'accept' });
    expect(questions.deliver('s-1', { jsonrpc: '2.0', id, result: {} })).toBe(false);
  });
  it('gives up at the deadline and on cancellation', async () => {
    const questions = new ClientRequests();
    const request = { method: 'sampling/createMessage' };
    await expect(
      questions.ask({ server: fakeServer([]), session: 's', relatedRequestId: 1, request, timeoutMs: 20 }),
    ).rejects.toThrow(/did not answer in time/);
    const abort = new AbortController();
    const asked = questions.ask({
      server: fakeServer([]),
      session: 's',
      relatedRequestId: 1,
      request,
      timeoutMs: 5_000,
      signal: abort.signal,
    });
    abort.abort();
    await expect(asked).rejects.toThrow(/cancelled/);
  });
  it('tells the runtime no answer will come when a 2025 client cannot be asked, then fails the call', async () => {
    const questions = new ClientRequests();
    const cancel = new AbortController();
    const retried: { responses: Record<string, unknown>; state: string | undefined }[] = [];
    const asking = answerInputRounds(
      {
        resultType: 'input_required' as const,
        inputRequests: {
          q1: { method: 'elicitation/create', params: {} },
          q2: { method: 'sampling/createMessage', params: {} },
        },
        requestState: 'pending-9',
      },
      {
        seal: createRequestStateSeal(randomBytes(32)),
        binding,
        client: { era: 'legacy', asks: ['elicitation/create', 'sampling/createMessage'] },
        push: { questions, server: fakeServer([]), session: 's', relatedRequestId: 4, signal: cancel.signal },
        retry: (responses, state) => {
          retried.push({ responses, state });
          return Promise.resolve({ content: [] });
        },
      },
    );
    // The first question is never answered: the caller cancels the call.
    await Promise.resolve();
    cancel.abort();
    await expect(asking).rejects.toThrow(/cancelled/);
    expect(retried).toEqual([{ responses: { q1: UNANSWERED, q2: UNANSWERED }, state: 'pending-9' }]);
    expect(isUnanswered(retried[0]!.responses.q1)).toBe(true);
    expect(isUnanswered({ action: 'cancel' })).toBe(false);
  });
  it('tells an answer from a request', () => {
    expect(isClientAnswer({ jsonrpc: '2.0', id: 'x', result: {} })).toBe(true);
    expect(isClientAnswer({ jsonrpc: '2.0', id: 1, error: { code: 1, message: 'no' } })).toBe(true);
    expect(isClientAnswer({ jsonrpc: '2.0', id: 1, method: 'tools/call' })).toBe(false);
  });
});

describe('questions a client declared it answers', () => {
  it("are read from either era's capabilities, elicitation by mode and sampling with tools apart", () => {
    expect(declaredQuestions({})).toEqual([]);
    expect(declaredQuestions(undefined)).toEqual([]);
    expect(declaredQuestions({ elicitation: true, sampling: null })).toEqual([]);
    // A bare elicitation declares form mode (its meaning before modes); naming a mode, only those named.
    expect(declaredQuestions({ elicitation: {} })).toEqual(['elicitation/create']);
    expect(declaredQuestions({ elicitation: { url: {} } })).toEqual(['elicitation/create:url']);
    expect(declaredQuestions({ elicitation: { form: {}, url: {} } })).toEqual([
      'elicitation/create',
      'elicitation/create:url',
    ]);
    expect(declaredQuestions({ sampling: {} })).toEqual(['sampling/createMessage']);
    expect(declaredQuestions({ sampling: { tools: {} } })).toEqual([
      'sampling/createMessage',
      'sampling/createMessage:tools',
    ]);
  });
  const asking = {
    resultType: 'input_required' as const,
    inputRequests: {
      q1: { method: 'elicitation/create', params: { mode: 'url', url: 'https://example.com', message: 'm' } },
      q2: { method: 'sampling/createMessage', params: { messages: [], maxTokens: 1, tools: [] } },
    },
    requestState: 'pending-3',
  };
  function answered(era: 'legacy' | 'modern', retried: Record<string, unknown>[]) {
    return answerInputRounds(asking, {
      seal: createRequestStateSeal(randomBytes(32)),
      binding,
      client: { era, asks: declaredQuestions({ elicitation: {}, sampling: {} }) },
      retry: (responses) => (retried.push(responses), Promise.resolve({ content: [] })),
    }).catch((error: unknown) => error as { code: unknown; data?: unknown; message: string });
  }
  it("refuse a 2026-07-28 request the specification's way, naming what it did not declare", async () => {
    const retried: Record<string, unknown>[] = [];
    const refused = await answered('modern', retried);
    expect(refused).toMatchObject({
      code: ProtocolErrorCode.MissingRequiredClientCapability,
      data: {
        requiredCapabilities: { elicitation: { url: {} }, sampling: { tools: {} } },
        code: 'input_request_refused',
        error_class: 'permanent',
      },
    });
    // The runtime is told no answer will come.
    expect(retried).toEqual([{ q1: UNANSWERED, q2: UNANSWERED }]);
  });
  it("refuse a 2025 session's the same, as the router's own error", async () => {
    const refused = await answered('legacy', []);
    expect(isBulkheadError(refused, 'input_request_refused')).toBe(true);
    expect(String((refused as { message?: unknown }).message)).toMatch(
      /in URL mode, sampling\/createMessage with tools/,
    );
  });
});

describe('packs and log levels', () => {
  it('names the pack before the first "_"', () => {
    expect(packOfExposed('files_write_file')).toBe('files');
    expect(packOfExposed('whoami')).toBeUndefined();
    expect(packOfExposed('_x')).toBeUndefined();
  });
  it('passes a log message at or above the level the client asked for', () => {
    expect(logLevelPasses('info', undefined)).toBe(true);
    expect(logLevelPasses('debug', 'info')).toBe(false);
    expect(logLevelPasses('error', 'warning')).toBe(true);
  });
});
