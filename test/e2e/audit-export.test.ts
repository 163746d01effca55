// Calls made through a real router (real IdP token, real MCP client, the tenant's real container)
// leave one audit record each, written once the outcome is known; the supervisor's sealer moves them
// into signed segments, and `bulkhead audit export` (offline, a separate process) hands a SIEM every
// field of every record as JSON lines: who, which tool, the decision, the outcome and its error
// class, the latency, the keyed digest of the arguments, the units a tool reported, and where the
// record sits in the chain. tools/list decisions are there too.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsDigest, argsDigestKey } from '../../kernel/audit/audit-record.ts';
import { ensureAuditKeys } from '../../tenants/control-plane/audit-segments.ts';
import { offlineAuditCli } from '../support/cli.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'audited';
const SECRET = `test-audit-secret-${randomUUID()}`;
let stack: TestStack;
let client: Client;
let dir: string;
let keys: Awaited<ReturnType<typeof ensureAuditKeys>>;

type Record_ = Record<string, unknown>;

const cli = (...args: string[]) =>
  offlineAuditCli({ namespace: stack.ns.namespace, dir, publicKeyFile: keys.publicKeyFile })(...args);

async function exported(...extra: string[]): Promise<Record_[]> {
  const out = join(dir, `export-${randomUUID()}.jsonl`);
  const result = await cli('audit', 'export', TENANT, '--out', out, ...extra);
  expect(result.code, result.stderr).toBe(0);
  const text = await readFile(out, 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Record_);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-audit-e2e-'));
  keys = await ensureAuditKeys(join(dir, 'keys'));
  stack = await startTestStack('audit', {
    router: {
      auditSecret: SECRET,
      sharedToolModules: [fileURLToPath(new URL('../support/fixtures/metered-tool.ts', import.meta.url))],
    },
    supervisor: { auditDir: join(dir, 'audit'), auditSigningKeyFile: keys.signingKeyFile },
  });
  await stack.onboard(TENANT);
  client = await agentClient(stack, TENANT);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('audit records of calls through the router, exported for a SIEM', () => {
  it('carry every field, verify, and filter by time', async () => {
    const listed = await client.listTools();
    const create = { title: `audited ${randomUUID()}`, idempotency_key: `k-${randomUUID()}` };
    expect((await client.callTool({ name: 'records_create', arguments: create })).isError).toBeFalsy();
    expect(
      (await client.callTool({ name: 'metered_lookup', arguments: { word: 'bulkhead' } })).isError,
    ).toBeFalsy();
    const invalid = { title: 42, idempotency_key: `k-${randomUUID()}` };
    expect((await client.callTool({ name: 'records_create', arguments: invalid })).isError).toBe(true);
    await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(/no_such_tool/);
    // Nothing is sealed before the supervisor's pass; a pass seals everything in Redis.
    const early = await cli('audit', 'export', TENANT);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('no such audit directory');
    await stack.supervisor.sealer!.runOnce();
    const records = await exported();

    const key = argsDigestKey(SECRET, TENANT);
    const byTool = (tool: string) => records.filter((r) => r.tool === tool);
    const chained = { tenant: TENANT, agent: expect.any(String), user: null, segment: 1 };
    const position = {
      seq: expect.any(Number),
      at: expect.any(String),
      prev: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      segment_digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      latency_ms: expect.any(Number),
    };
    const list = byTool('tools/list').at(-1);
    expect(list).toMatchObject({ ...chained, kind: 'list', decision: 'permit', reason: 'listed' });
    expect(list?.listed).toEqual(listed.tools.map((t) => t.name));
    expect(list?.listed).toContain('metered_lookup');
    expect(Array.isArray(list?.withheld)).toBe(true);

    const [created, rejected] = byTool('records_create');
    expect(created).toEqual({
      ...chained,
      ...position,
      tool: 'records_create',
      kind: 'call',
      decision: 'permit',
      reason: expect.any(String),
      args_digest: argsDigest(key, { title: create.title }),
      status: 'ok',
    });
    expect(rejected).toMatchObject({
      ...position,
      args_digest: argsDigest(key, { title: invalid.title }),
      status: 'error',
      error_code: 'invalid_arguments',
      error_class: 'validation',
    });
    expect(byTool('metered_lookup')[0]).toMatchObject({
      ...position,
      status: 'ok',
      units: 'bulkhead'.length,
      args_digest: argsDigest(key, { word: 'bulkhead' }),
    });
    expect(byTool('no_such_tool')[0]).toMatchObject({
      ...position,
      decision: 'deny',
      status: 'error',
      error_code: 'unknown_tool',
      error_class: 'validation',
    });
    // The raw arguments appear nowhere.
    expect(JSON.stringify(records)).not.toContain(create.title);
    // One chain, in order, from seq 1.
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));

    const verified = await cli('audit', 'verify', TENANT);
    expect(verified.code, verified.stderr).toBe(0);
    const after = new Date(Date.parse(String(records.at(-1)?.at)) + 1).toISOString();
    expect(await exported('--from', after)).toEqual([]);
    expect(await exported('--to', String(created?.at))).toEqual(
      records.filter((r) => String(r.at) < String(created?.at)),
    );
  }, 120_000);

  it('writes to stdout without --out, and refuses an unknown format with exit 2', async () => {
    const stdout = await cli('audit', 'export', TENANT);
    expect(stdout.code, stdout.stderr).toBe(0);
    expect(stdout.stdout.trim().split('\n').length).toBeGreaterThan(4);
    expect(stdout.stderr).toMatch(/^exported \d+ records/);
    const bad = await cli('audit', 'export', TENANT, '--format', 'csv');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('only jsonl');
  }, 60_000);
});
