// fast-check generators for the tool-surface fuzz test: tool calls that an LLM might send (mostly
// well-shaped, with nasty values mixed in: out-of-range dates, negative quantities, traversal and
// injection strings, unknown fields, wrong types, oversized strings) and raw JSON-RPC messages.
import fc from 'fast-check';

const NASTY = [
  '../../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e%2f',
  '/etc/shadow',
  "'; DROP TABLE records; --",
  '$(reboot)',
  '`id`',
  'a\u0000b',
  'x\u202Eexe',
  '-rf',
  '',
  ' ',
];

const nasty = fc.constantFrom(...NASTY);
/** Mostly plausible values, sometimes a nasty one: an LLM's arguments usually fit the schema. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });
}
const text = (max: number) =>
  mostly(
    fc.string({ minLength: 1, maxLength: Math.min(max, 40) }),
    fc.oneof(nasty, fc.string({ minLength: max + 1, maxLength: max + 50 })),
  );
const day = mostly(
  fc
    .date({ min: new Date('1950-01-01'), max: new Date('2150-12-31'), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom(
    '9999-12-31',
    '0001-01-01',
    '1899-12-31',
    '2026-02-30',
    '2026-13-01',
    '20260101',
    'tomorrow',
  ),
);
const quantity = mostly(
  fc.nat({ max: 1000 }),
  fc.oneof(fc.integer({ min: -1000, max: -1 }), fc.double(), fc.constant(1e12), fc.string()),
);
const ref = mostly(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), nasty);
const key = mostly(fc.uuid(), fc.constantFrom('short', 'has space in it', '../../key', 'k'.repeat(200)));
const id = mostly(fc.uuid(), fc.oneof(nasty, fc.string({ maxLength: 40 })));
const tags = mostly(
  fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { maxLength: 5 }),
  fc.array(fc.oneof(nasty, fc.string()), { maxLength: 25 }),
);

/** Well-shaped objects most of the time; sometimes a missing required field or an unknown one. */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.record(fields, { requiredKeys: required as never[] }) },
    { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.record(fields, { requiredKeys: required as never[] }),
          fc.string({ minLength: 1, maxLength: 8 }),
          fc.jsonValue({ maxDepth: 1 }),
        )
        .map(([o, k, v]) => ({ ...o, [k]: v })),
    },
  );
}

const recordFields = {
  title: text(200),
  body: text(300),
  tags,
  ref,
  quantity,
  start_date: day,
  due_date: day,
};
const writeFields = { ...recordFields, idempotency_key: key };

const argsFor: Record<string, fc.Arbitrary<unknown>> = {
  records_create: shaped(writeFields, ['title', 'idempotency_key']),
  records_update: shaped({ id, ...writeFields }, ['id', 'idempotency_key']),
  records_delete: shaped({ id, idempotency_key: key }, ['id', 'idempotency_key']),
  records_get: shaped({ id }, ['id']),
  records_list: shaped(
    {
      limit: mostly(
        fc.integer({ min: 1, max: 100 }),
        fc.oneof(fc.integer({ min: -5, max: 150 }), fc.string()),
      ),
      after: id,
      due_before: day,
      order: mostly(fc.constantFrom('oldest_first', 'newest_first'), fc.oneof(nasty, fc.string())),
      cursor: mostly(
        fc
          .tuple(fc.constantFrom('oldest_first', 'newest_first'), fc.integer({ min: 1, max: 1_000_000 }))
          .map(([order, position]) => `${order}:${position}`),
        fc.oneof(
          nasty,
          fc.constantFrom(
            'oldest_first:0',
            'newest_first:-1',
            `oldest_first:${'9'.repeat(20)}`,
            'oldest_first',
          ),
          fc.string({ maxLength: 40 }),
        ),
      ),
    },
    [],
  ),
  records_bulk_create: shaped(
    {
      items: fc.array(shaped(recordFields, ['title']), { minLength: 1, maxLength: 12 }),
      idempotency_key: key,
    },
    ['items', 'idempotency_key'],
  ),
  docs_search: shaped(
    {
      query: text(200),
      doc: mostly(fc.constantFrom('errors.md', 'getting-started.md'), nasty),
      limit: mostly(fc.integer({ min: 1, max: 50 }), fc.integer({ min: -1, max: 60 })),
    },
    ['query'],
  ),
  quota_status: shaped({}, []),
  whoami: shaped({}, []),
};

export const TOOL_NAMES = Object.keys(argsFor);

export const toolCall: fc.Arbitrary<{ name: string; arguments: unknown }> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(...TOOL_NAMES)
      .chain((name) => argsFor[name]!.map((args) => ({ name, arguments: args }))),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...TOOL_NAMES)),
      arguments: fc.jsonValue({ maxDepth: 3 }),
    }),
  },
);

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

const METHODS = [
  'tools/list',
  'tools/call',
  'server/discover',
  'ping',
  'initialize',
  'resources/list',
  'prompts/get',
  'completion/complete',
  'notifications/initialized',
  'logging/setLevel',
];

/** A raw JSON-RPC message, its body text and the Mcp-Method/Mcp-Name headers (matching or not). */
export const rawMessage: fc.Arbitrary<{ body: string; method: string; name?: string }> = fc.oneof(
  fc
    .record({
      jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), fc.constant(undefined)),
      id: fc.oneof(
        fc.integer(),
        fc.string({ maxLength: 10 }),
        fc.constant(null),
        fc.constant(undefined),
        fc.object({ maxDepth: 1 }),
      ),
      method: fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 20 })),
      params: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), toolCall),
      headerMethod: fc.oneof(fc.constant<string | undefined>(undefined), fc.constantFrom(...METHODS)),
    })
    .map(({ headerMethod, ...message }) => {
      const params =
        message.params && typeof message.params === 'object' && !Array.isArray(message.params)
          ? { ...message.params, _meta: META }
          : message.params;
      const name = (params as { name?: unknown } | undefined)?.name;
      return {
        body: JSON.stringify({ ...message, params }),
        method: headerMethod ?? message.method,
        ...(typeof name === 'string' ? { name } : {}),
      };
    }),
  fc.string({ maxLength: 200 }).map((body) => ({ body, method: 'tools/call' })),
  fc
    .array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 })
    .map((batch) => ({ body: JSON.stringify(batch), method: 'tools/list' })),
);
