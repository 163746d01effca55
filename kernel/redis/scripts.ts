// Bulkhead's Lua scripts, one file each under ./lua: read once when this module loads and
// registered once per ioredis client (defineCommand). ioredis sends a script's source (EVAL) the
// first time on each connection and its SHA-1 (EVALSHA) afterwards, and re-sends the source when
// the server answers NOSCRIPT (after a restart or SCRIPT FLUSH). The stores call the typed
// functions of `redisScripts(redis)`; each names its keys and arguments, in the order the script
// reads them (KEYS[i], ARGV[i]), so a call cannot swap two strings unnoticed.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

interface ScriptSpec<K extends string, A extends string, R extends ScriptReturn = 'integer'> {
  /** File name under ./lua. */
  file: string;
  /** What the script returns: one integer, an array of integers, or an array of integers and texts. */
  returns: R;
  /** KEYS[1..n], in order. */
  keys: readonly K[];
  /** ARGV[1..n], in order. */
  args: readonly A[];
  /**
   * The script takes one or more calls in one invocation, the keys and arguments of each in blocks
   * one after another, and returns the results of each in turn (its typed function takes a list).
   */
  batched?: boolean;
}

type ScriptReturn = 'integer' | 'integers' | 'values';

function spec<const K extends string, const A extends string, const R extends ScriptReturn = 'integer'>(
  file: string,
  keys: readonly K[],
  args: readonly A[],
  returns: R = 'integer' as R,
): ScriptSpec<K, A, R> {
  return { file, keys, args, returns };
}

function batchSpec<const K extends string, const A extends string>(
  file: string,
  keys: readonly K[],
  args: readonly A[],
): ScriptSpec<K, A, 'integers'> & { batched: true } {
  return { ...spec(file, keys, args, 'integers'), batched: true };
}

/** Every script, by the name ioredis registers it under, with what it returns. */
export const SCRIPTS = {
  registryCreate: spec(
    'registry-create.lua',
    ['record', 'tenants', 'changes', 'order'],
    ['id', 'record', 'log'],
  ),
  registryUpdate: spec(
    'registry-update.lua',
    ['record', 'changes', 'secrets'],
    ['expectedGeneration', 'expectedUid', 'record', 'log', 'secretName', 'secretValue'],
  ),
  registryDelete: spec(
    'registry-delete.lua',
    ['record', 'tenants', 'changes', 'order'],
    ['id', 'expectedGeneration', 'expectedUid', 'log'],
  ),
  registryPage: spec('registry-page.lua', ['tenants', 'order'], ['where', 'id', 'limit'], 'values'),
  auditAppend: spec(
    'audit-append.lua',
    ['stream', 'head'],
    ['expectedHead', 'newHead', 'entries', 'emptyHead'],
    'values',
  ),
  auditClose: spec('audit-close.lua', ['stream', 'head'], ['sealedHead']),
  auditSetAside: spec(
    'audit-set-aside.lua',
    ['stream', 'head', 'asideStream', 'asideHead', 'record'],
    ['keepSeconds'],
  ),
  epochBumpIfIdle: spec('epoch-bump-if-idle.lua', ['activity', 'epoch'], ['tenant', 'idleSince']),
  evidenceSave: spec('evidence-save.lua', ['record', 'evidence'], ['tenantCreatedAt', 'kept']),
  idempotencyRelease: spec('idempotency-release.lua', ['claim'], ['value']),
  idempotencyRenew: spec('idempotency-renew.lua', ['claim'], ['value', 'ttlMs']),
  idempotencyKeep: spec(
    'idempotency-keep.lua',
    ['place', 'kept', 'totals'],
    ['claim', 'record', 'windowMs', 'maxBytes', 'entryBytes'],
    'integers',
  ),
  sessionTouch: spec('session-touch.lua', ['session', 'tenantSessions'], ['binding', 'ttlSeconds'], 'values'),
  sessionOpen: spec(
    'session-open.lua',
    ['session', 'tenantSessions'],
    ['record', 'ttlSeconds', 'maxPerTenant', 'indexTtlSeconds'],
  ),
  upstreamRefund: spec('upstream-refund.lua', ['upstream', 'upstreamBudgets'], ['name']),
  rateLimit: batchSpec(
    'rate-limit.lua',
    [
      'tenantMinute',
      'tenantDay',
      'agent',
      'user',
      'tool',
      'upstream1',
      'upstream2',
      'upstream3',
      'upstreamBudgets',
    ],
    [
      'tenantMinuteLimit',
      'tenantDayLimit',
      'agentLimit',
      'userLimit',
      'toolLimit',
      'tenantMinutePeriod',
      'tenantDayPeriod',
      'agentPeriod',
      'userPeriod',
      'toolPeriod',
      'peek',
      'upstream1Name',
      'upstream2Name',
      'upstream3Name',
    ],
  ),
} as const;

export type ScriptName = keyof typeof SCRIPTS;

type KeysOf<S> = S extends ScriptSpec<infer K, string, ScriptReturn> ? K : never;
type ArgsOf<S> = S extends ScriptSpec<string, infer A, ScriptReturn> ? A : never;
/** The rate-limit script's key and argument names (kernel/ratelimit/rate-limiter.ts builds its batches). */
export type RateLimitKeys = KeysOf<(typeof SCRIPTS)['rateLimit']>;
export type RateLimitArgs = ArgsOf<(typeof SCRIPTS)['rateLimit']>;

/** One call of a batched script: its keys and arguments. */
export interface ScriptItem<K extends string, A extends string> {
  keys: Record<K, string>;
  args: Record<A, string | number>;
}

/** What a script's typed function resolves to, by its spec's `returns`. */
type ReturnOf<R extends ScriptReturn> = R extends 'integers'
  ? number[]
  : R extends 'values'
    ? (number | string)[]
    : number;

type ScriptCall<S> =
  S extends ScriptSpec<infer K, infer A, infer R>
    ? S extends { batched: true }
      ? (items: readonly ScriptItem<K, A>[]) => Promise<number[]>
      : (keys: Record<K, string>, args: Record<A, string | number>) => Promise<ReturnOf<R>>
    : never;

/** The typed scripts of one client. */
export type RedisScripts = { [N in ScriptName]: ScriptCall<(typeof SCRIPTS)[N]> };

const NAMES = Object.keys(SCRIPTS) as ScriptName[];

/** The scripts' sources, read once (this module's directory travels with the control-plane image). */
export const LUA_SOURCES: Readonly<Record<ScriptName, string>> = Object.fromEntries(
  NAMES.map((name) => [name, readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), 'utf8')]),
) as Record<ScriptName, string>;

type Invoke = (...args: string[]) => Promise<unknown>;

const bound = new WeakMap<Redis, RedisScripts>();

function bind(redis: Redis): RedisScripts {
  const entries = NAMES.map((name) => {
    const { keys, args, returns, batched } = SCRIPTS[name] as ScriptSpec<string, string, ScriptReturn>;
    // A batched script's key count varies with the batch: ioredis then takes it as the first argument.
    redis.defineCommand(name, { ...(batched ? {} : { numberOfKeys: keys.length }), lua: LUA_SOURCES[name] });
    const invoke = (redis as unknown as Record<ScriptName, Invoke>)[name].bind(redis);
    const checked = (result: unknown): ReturnOf<ScriptReturn> => {
      const ok =
        returns === 'integer'
          ? typeof result === 'number'
          : Array.isArray(result) &&
            result.every(
              (item) => typeof item === 'number' || (returns === 'values' && typeof item === 'string'),
            );
      if (!ok) throw new Error(`Lua script ${name} returned ${typeof result}`);
      return result as ReturnOf<ScriptReturn>;
    };
    const keysOf = (values: Record<string, string>): string[] => keys.map((k) => values[k] as string);
    const argsOf = (values: Record<string, string | number>): string[] => args.map((a) => String(values[a]));
    const call = batched
      ? async (items: readonly ScriptItem<string, string>[]): Promise<ReturnOf<ScriptReturn>> =>
          checked(
            await invoke(
              String(items.length * keys.length),
              ...items.flatMap((item) => keysOf(item.keys)),
              ...items.flatMap((item) => argsOf(item.args)),
            ),
          )
      : async (
          keyValues: Record<string, string>,
          argValues: Record<string, string | number>,
        ): Promise<ReturnOf<ScriptReturn>> =>
          checked(await invoke(...keysOf(keyValues), ...argsOf(argValues)));
    return [name, call] as const;
  });
  return Object.fromEntries(entries) as unknown as RedisScripts;
}

/** The scripts on `redis`, registered on the first call for that client and reused after. */
export function redisScripts(redis: Redis): RedisScripts {
  let scripts = bound.get(redis);
  if (!scripts) {
    scripts = bind(redis);
    bound.set(redis, scripts);
  }
  return scripts;
}
