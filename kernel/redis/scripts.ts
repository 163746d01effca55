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
  /** What the script returns: one integer, or an array of integers. */
  returns: R;
  /** KEYS[1..n], in order. */
  keys: readonly K[];
  /** ARGV[1..n], in order. */
  args: readonly A[];
}

type ScriptReturn = 'integer' | 'integers';

function spec<const K extends string, const A extends string, const R extends ScriptReturn = 'integer'>(
  file: string,
  keys: readonly K[],
  args: readonly A[],
  returns: R = 'integer' as R,
): ScriptSpec<K, A, R> {
  return { file, keys, args, returns };
}

/** Every script, by the name ioredis registers it under. Each returns an integer. */
export const SCRIPTS = {
  registryCreate: spec('registry-create.lua', ['record', 'tenants', 'changes'], ['id', 'record', 'log']),
  registryUpdate: spec('registry-update.lua', ['record', 'changes'], ['expectedGeneration', 'record', 'log']),
  registryDelete: spec('registry-delete.lua', ['record', 'tenants', 'changes'], ['id', 'log']),
  auditAppend: spec(
    'audit-append.lua',
    ['stream', 'head'],
    ['expectedHead', 'newHead', 'entries', 'emptyHead'],
  ),
  epochBumpIfIdle: spec('epoch-bump-if-idle.lua', ['activity', 'epoch'], ['tenant', 'idleSince']),
  idempotencyRelease: spec('idempotency-release.lua', ['claim'], ['value']),
  idempotencyRenew: spec('idempotency-renew.lua', ['claim'], ['value', 'ttlMs']),
  rateLimit: spec(
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
    'integers',
  ),
} as const;

export type ScriptName = keyof typeof SCRIPTS;

type ScriptCall<S> =
  S extends ScriptSpec<infer K, infer A, infer R>
    ? (
        keys: Record<K, string>,
        args: Record<A, string | number>,
      ) => Promise<R extends 'integers' ? number[] : number>
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
    const { keys, args, returns } = SCRIPTS[name] as ScriptSpec<string, string, ScriptReturn>;
    redis.defineCommand(name, { numberOfKeys: keys.length, lua: LUA_SOURCES[name] });
    const invoke = (redis as unknown as Record<ScriptName, Invoke>)[name].bind(redis);
    const call = async (
      keyValues: Record<string, string>,
      argValues: Record<string, string | number>,
    ): Promise<number | number[]> => {
      const result = await invoke(
        ...keys.map((k) => keyValues[k] as string),
        ...args.map((a) => String(argValues[a])),
      );
      const ok =
        returns === 'integer'
          ? typeof result === 'number'
          : Array.isArray(result) && result.every((item) => typeof item === 'number');
      if (!ok) throw new Error(`Lua script ${name} returned ${typeof result}`);
      return result as number | number[];
    };
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
