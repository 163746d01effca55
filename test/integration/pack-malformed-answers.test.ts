// A pack that answers a request with a response JSON-RPC 2.0 does not allow (a string error code, an
// error without a message, both a result and an error, neither), in a real tenant container: the
// request fails at once with the structured `pack_unavailable`, not after the call timeout, and the
// pack keeps running; malformed lines naming no request in flight fail nothing. The notes fixture
// pack's read of a missing note is the bug met in the wild: its stdio loop answers with Node's
// string code ENOENT. The runtime's log (the container's) names what the pack sent.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, removeImage } from '../support/pack-image.ts';
import { packTenants, type PackTenants } from '../support/pack-tenants.ts';
import { until } from '../support/until.ts';

/**
 * A request left to the pack's call timeout would be answered `pack_timeout`, its pack killed: what
 * each test asserts (`pack_unavailable`, the same pid) tells "at once" from that without a clock.
 */
const CALL_TIMEOUT_MS = 25_000;
let ns: TestNamespace;
let tenants: PackTenants;
let image: string | undefined;
let client: Client;

beforeAll(async () => {
  ns = await testNamespace('pack-malformed');
  image = await buildPackImage({
    tag: `${ns.namespace}-malformed`,
    packs: [await approvePack('faulty'), await approvePack('notes')],
    env: { BULKHEAD_PACK_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS) },
  });
  tenants = await packTenants(ns);
  await tenants.start('malformed-a', 100_451, image);
  client = await tenants.client('malformed-a', { packs: ['notes'] });
}, 300_000);

afterAll(async () => {
  await client?.close();
  await ns?.cleanup();
  if (image) await removeImage(image);
});

const pid = async () => {
  const ok = await client.callTool({ name: 'faulty_ok', arguments: {} });
  return (ok.structuredContent as { pid: number }).pid;
};

/** The runtime's log lines (the container's output) that name a malformed answer. */
async function malformedLog(): Promise<{ why: string; line: string }[]> {
  const container = ns.docker.getContainer(`bulkhead-${ns.namespace}-malformed-a`);
  const output = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  return output
    .split('\n')
    .filter((line) => line.includes('malformed JSON-RPC response'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as { why: string; line: string });
}

/**
 * The log once it holds more than `count` such lines. Docker takes the container's output from its
 * pipe on its own time: the error can reach the client before the line it logged reaches the
 * container's log (so failed a CI run once, reading the line before).
 */
async function malformedLogPast(count: number): Promise<{ why: string; line: string }[]> {
  let logged: { why: string; line: string }[] = [];
  await until(async () => (logged = await malformedLog()).length > count, `log line ${count + 1}`, 50);
  return logged;
}

describe('a pack answering with a malformed JSON-RPC response', () => {
  it.each([
    ['string_code', 'an error whose code is not an integer ("ENOENT")'],
    ['no_message', 'an error without a string message'],
    ['both', 'both a result and an error'],
    ['neither', 'neither a result nor an error'],
  ])('fails a tool call at once with pack_unavailable (%s); the pack keeps running', async (shape, why) => {
    const before = await pid();
    const count = (await malformedLog()).length;
    const value = await client.callTool({ name: 'faulty_malformed', arguments: { shape } });
    expect(value.isError).toBe(true);
    expect(value.structuredContent).toMatchObject({
      error: { code: 'pack_unavailable', error_class: 'transient', retryable: true },
    });
    expect((value.structuredContent as { error: { message: string } }).error.message).toContain(why);
    expect(await pid()).toBe(before);
    const logged = await malformedLogPast(count);
    expect(logged).toHaveLength(count + 1);
    expect(logged.at(-1)?.why).toBe(why);
  });

  it('fails a resource read at once: the notes pack answering a missing note with ENOENT', async () => {
    const count = (await malformedLog()).length;
    const error = await client.readResource({ uri: 'notes://note/missing' }).then(
      () => undefined,
      (e: unknown) => e as { code: number; data: unknown },
    );
    expect(error).toMatchObject({
      code: -32603,
      data: { code: 'pack_unavailable', error_class: 'transient' },
    });
    const logged = await malformedLogPast(count);
    expect(logged).toHaveLength(count + 1);
    expect(logged.at(-1)?.line).toContain('"code":"ENOENT"');
    expect(logged.at(-1)?.line).toContain('missing.txt');
    // The pack still serves what exists.
    const readme = await client.readResource({ uri: 'notes://readme' });
    expect(readme.contents[0]).toMatchObject({ text: 'notes pack' });
  });

  it('ignores malformed answers naming no request in flight: the call is answered as the pack answered', async () => {
    const logged = (await malformedLog()).length;
    const value = await client.callTool({ name: 'faulty_stray', arguments: {} });
    expect(value.isError).toBeFalsy();
    expect(value.structuredContent).toMatchObject({ ok: true });
    // Not taken for an answer to anything: not reported as one. A malformed answer that is reported,
    // made after, marks the log's end: once its line is there, any line of the stray call's is too.
    await client.callTool({ name: 'faulty_malformed', arguments: { shape: 'both' } });
    const after = await malformedLogPast(logged);
    expect(after).toHaveLength(logged + 1);
    expect(after.at(-1)?.why).toBe('both a result and an error');
  });
});
