// A tenant runtime's progress reaches the caller only as the spec shapes it (router/dispatch/
// runtime-request.ts): `progress`, and `total` and `message` where given, under the caller's own
// token; fields of the runtime's own are not relayed, and a notification whose message is not a
// string, or longer than a person reads, is dropped. Real router, a real tenant container taken
// over by a hostile process of the tenant (test/support/answering-runtime.ts), a stock SDK v2 client
// asking for progress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerRecordsAs } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** Every tools/call: five progress notifications under the router's token, then a result. */
const SCRIPT = String.raw`(message) => {
  const token = message.params._meta && message.params._meta.progressToken;
  const progress = (params) => ({ jsonrpc: '2.0', method: 'notifications/progress',
    params: Object.assign({ progressToken: token }, params) });
  return [
    progress({ progress: 1, total: 4, note: 'not the spec', _meta: { 'io.bulkhead/budget': { left: 0 } } }),
    progress({ progress: 2, message: { html: '<b>not a string</b>' } }),
    progress({ progress: 3, message: 'm'.repeat(100000) }),
    progress({ progress: 4, total: 4, message: 'done' }),
    { jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', content: [{ type: 'text', text: 'ok' }],
      structuredContent: { records: [], next_cursor: null } } },
  ];
}`;

let stack: TestStack;
let hostile: HostileProcess | undefined;

beforeAll(async () => {
  stack = await startTestStack('rt-progress', { callTimeoutMs: 15_000 });
  await stack.onboard('chatty');
  hostile = await answerRecordsAs(stack, 'chatty', SCRIPT);
}, 180_000);

afterAll(async () => {
  hostile?.stop();
  await stack?.close();
});

describe("a runtime's progress notifications", () => {
  it('reach the client with the checked fields only, and not at all when they break the shape', async () => {
    const client = await agentClient(stack, 'chatty');
    const heard: unknown[] = [];
    try {
      const answer = await client.callTool(
        { name: 'records_list', arguments: {} },
        { onprogress: (progress) => void heard.push(progress) },
      );
      expect(answer.content).toEqual([{ type: 'text', text: 'ok' }]);
    } finally {
      await client.close();
    }
    expect(heard).toEqual([
      { progress: 1, total: 4 },
      { progress: 4, total: 4, message: 'done' },
    ]);
  });
});
