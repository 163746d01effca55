// The tools the routers' drift checks withhold, as Redis holds them (`withheldToolsKey`): a hash
// field per tenant, tool and router ("<tenant>\n<tool>\n<router id>"), its value why and when that
// router's check last found it. The routers write and read it (router/tools/shared-withheld.ts); the
// console and `bulkhead show` show a tenant's (`tenantWithheld`). An entry no check renewed within
// the reader's age bound counts for nothing, and a router removes it, as it removes one that does
// not parse (not written by a router); the console and the CLI only look.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { withheldToolsKey } from '../redis/keys.ts';

const EntrySchema = z.object({
  reason: z.enum(['definition_changed', 'missing']),
  expected: z.string().max(128),
  actual: z.string().max(128).nullable(),
  /** When the router's check last found it, ms since the epoch. */
  at: z.number(),
});

/** Why a tool is withheld: the approved digest and the one presented (null: missing). */
export interface Withheld {
  reason: 'definition_changed' | 'missing';
  expected: string;
  actual: string | null;
}

/** One router's entry: a tool its checks withhold for a tenant, last found `at`. */
export interface WithheldEntry extends Withheld {
  tenant: string;
  tool: string;
  router: string;
  at: number;
}

export function withheldField(entry: Pick<WithheldEntry, 'tenant' | 'tool' | 'router'>): string {
  return `${entry.tenant}\n${entry.tool}\n${entry.router}`;
}

export function withheldValue(withheld: Withheld, at: number): string {
  const { reason, expected, actual } = withheld;
  return JSON.stringify({ reason, expected, actual, at } satisfies z.infer<typeof EntrySchema>);
}

/**
 * Every entry found within `maxAgeMs` of `now`; the others (older, or malformed) are removed, unless
 * the reader only looks (`prune: false`, the console, which changes nothing).
 */
export async function readWithheld(options: {
  redis: Redis;
  prefix: string;
  maxAgeMs: number;
  now: number;
  prune?: boolean;
}): Promise<WithheldEntry[]> {
  const key = withheldToolsKey(options.prefix);
  const fields = await options.redis.hgetall(key);
  const entries: WithheldEntry[] = [];
  const dropped: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    const [tenant, tool, router, ...rest] = field.split('\n');
    const entry = parsed(value);
    if (!tenant || !tool || !router || rest.length > 0 || !entry || entry.at < options.now - options.maxAgeMs)
      dropped.push(field);
    else entries.push({ tenant, tool, router, ...entry });
  }
  if (dropped.length > 0 && options.prune !== false) await options.redis.hdel(key, ...dropped);
  return entries;
}

/** A tool withheld for a tenant, as an operator sees it: why, by how many routers, when last found. */
export interface WithheldTool {
  tool: string;
  reason: Withheld['reason'];
  routers: number;
  /** ISO time a router's check last found it. */
  lastFound: string;
}

/**
 * The tenant's entries, one line per tool, as they are (the routers remove the ones no check
 * renewed; a reader that shows them only looks).
 */
export async function tenantWithheld(
  state: { redis: Redis; prefix: string },
  tenant: string,
): Promise<WithheldTool[]> {
  const entries = await readWithheld({
    ...state,
    maxAgeMs: Number.POSITIVE_INFINITY,
    now: Date.now(),
    prune: false,
  });
  const byTool = new Map<string, WithheldTool>();
  for (const entry of entries.filter((e) => e.tenant === tenant)) {
    const known = byTool.get(entry.tool);
    const at = new Date(entry.at).toISOString();
    if (!known) byTool.set(entry.tool, { tool: entry.tool, reason: entry.reason, routers: 1, lastFound: at });
    else {
      known.routers += 1;
      if (at > known.lastFound) Object.assign(known, { lastFound: at, reason: entry.reason });
    }
  }
  return [...byTool.values()].sort((a, b) => a.tool.localeCompare(b.tool));
}

function parsed(value: string): z.infer<typeof EntrySchema> | undefined {
  try {
    const entry = EntrySchema.safeParse(JSON.parse(value));
    return entry.success ? entry.data : undefined;
  } catch {
    return undefined;
  }
}
