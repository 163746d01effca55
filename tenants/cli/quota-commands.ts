// `bulkhead quota <tenant>` (live usage per rate-limit layer, the listing layers apart), `bulkhead upstream` (the shared
// budgets of downstream APIs), and the quota flags of `bulkhead update`. Parsing and printing only:
// the work is in tenants/control-plane/quota.ts and update.ts.
import { quotaReport, setUpstream, upstreamBudgets, type QuotaRow } from '../control-plane/quota.ts';
import type { QuotaChanges } from '../control-plane/update.ts';
import { checkedUpstreamLimit, checkedUpstreamName } from '../../kernel/ratelimit/upstream-budgets.ts';
import { withContext } from './cli-context.ts';
import { oneId, parse, UsageError, type Command } from './command-kit.ts';

/** A whole number of calls for a quota flag, or a usage error naming the flag. */
function count(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${flag} takes a whole number of calls (1 or more), not "${value}"`);
  return n;
}

/** `bulkhead update`'s quota flags. */
export const QUOTA_FLAGS = {
  'calls-per-minute': { type: 'string' },
  'calls-per-day': { type: 'string' },
  'agent-calls-per-minute': { type: 'string' },
  'user-calls-per-minute': { type: 'string' },
  'tool-limit': { type: 'string', multiple: true },
} as const;

export const QUOTA_USAGE =
  '[--calls-per-minute N] [--calls-per-day N] [--agent-calls-per-minute N] [--user-calls-per-minute N] [--tool-limit TOOL=N|TOOL=none]...';

type QuotaValues = {
  [K in keyof typeof QUOTA_FLAGS]?: (typeof QUOTA_FLAGS)[K] extends { multiple: true } ? string[] : string;
};

/** The quota overrides the flags ask for; undefined when none was given. */
export function quotaChanges(values: QuotaValues): QuotaChanges | undefined {
  const changes: QuotaChanges = {};
  const fields = [
    ['calls-per-minute', 'callsPerMinute'],
    ['calls-per-day', 'callsPerDay'],
    ['agent-calls-per-minute', 'agentCallsPerMinute'],
    ['user-calls-per-minute', 'userCallsPerMinute'],
  ] as const;
  for (const [flag, field] of fields) {
    const value = values[flag];
    if (value !== undefined) changes[field] = count(flag, value);
  }
  for (const entry of values['tool-limit'] ?? []) {
    const match = /^([^=\s]+)=(\S+)$/.exec(entry);
    if (!match) throw new UsageError(`--tool-limit takes TOOL=N or TOOL=none, not "${entry}"`);
    const [, tool = '', limit = ''] = match;
    changes.tools = { ...changes.tools, [tool]: limit === 'none' ? null : count('tool-limit', limit) };
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

function whatOf(row: QuotaRow): string {
  if (row.layer === 'tool') return `tool ${row.tool ?? ''}`;
  if (row.layer === 'upstream') return `upstream ${row.upstream ?? ''}`;
  if (row.subject !== undefined) return `${row.layer} ${row.subject}`;
  return row.layer;
}

/** One row per layer, columns aligned. */
function printLayers(rows: QuotaRow[]): void {
  const header = ['layer', 'limit', 'period', 'used', 'remaining', 'full again'];
  const table = rows.map((row) => [
    whatOf(row),
    String(row.limit),
    row.period_ms === 86_400_000 ? 'day' : 'minute',
    String(row.used),
    String(row.remaining),
    row.reset_ms > 0 ? row.reset_at : 'now',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
  for (const line of [header, ...table])
    console.log(
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

export const quota: Command = {
  summary:
    "a tenant's live rate-limit usage per layer: calls (tenant, agents, users, tools, upstreams), then listings (tools/list)",
  usage: 'bulkhead quota <tenant-id> [--json]',
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean', default: false } });
    const id = oneId(positionals, 'quota');
    const report = await withContext((ctx) => quotaReport(ctx, ctx.rates, id));
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const { callsPerMinute, callsPerDay, agentCallsPerMinute, userCallsPerMinute, tools } = report.quotas;
    console.log(
      `# ${report.tenant}: ${callsPerMinute}/min, ${callsPerDay}/day, agent ${agentCallsPerMinute ?? 'half'}/min, user ${userCallsPerMinute ?? 'half'}/min` +
        (tools
          ? `, tools ${Object.entries(tools)
              .map(([t, n]) => `${t}=${n}/min`)
              .join(' ')}`
          : ''),
    );
    printLayers(report.layers);
    // Listings are budgets of their own: printed apart, so that no one reads them as calls.
    console.log('');
    console.log('# listing budgets (tools/list only; apart from the call budgets above), in listings');
    printLayers(report.listing);
  },
};

export const upstream: Command = {
  summary: 'list, set or remove the shared budgets of downstream APIs (calls per minute, all tenants)',
  usage: 'bulkhead upstream [<name> (--calls-per-minute N | --remove)] [--json]',
  async run(args) {
    const { values, positionals } = parse(args, {
      'calls-per-minute': { type: 'string' },
      remove: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    if (positionals.length > 1) throw new UsageError('upstream takes at most one name');
    const [name] = positionals;
    const limit = values['calls-per-minute'];
    if (name === undefined && (limit !== undefined || values.remove))
      throw new UsageError('--calls-per-minute and --remove need an upstream name');
    if (name !== undefined && (limit === undefined) === !values.remove)
      throw new UsageError('give an upstream name either --calls-per-minute N or --remove');
    // Checked before Redis is reached: a wrong name or count is the command line's, whatever Redis says.
    if (name !== undefined) checkedUpstreamName(name);
    const perMinute = limit === undefined ? null : checkedUpstreamLimit(count('calls-per-minute', limit));
    const budgets = await withContext(async (ctx) => {
      if (name !== undefined) await setUpstream(ctx.rates, name, perMinute);
      return upstreamBudgets(ctx.rates);
    });
    if (values.json) console.log(JSON.stringify(budgets, null, 2));
    else if (Object.keys(budgets).length === 0) console.log('no upstream budgets');
    else
      for (const [n, perMinute] of Object.entries(budgets)) console.log(`${n.padEnd(24)} ${perMinute}/min`);
  },
};
