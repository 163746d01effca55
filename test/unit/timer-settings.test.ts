// A Node timer waits at most 2^31 - 1 ms (about 24.8 days): a longer delay becomes 1 ms, with only a
// TimeoutOverflowWarning, so a setting of 30 days would fire its timer at once, every time. Every
// setting some timer waits out declares it (`timer`, kernel/config/define-config.ts) and is refused
// past the bound when its process starts; the others are listed below with what they are used for,
// so a new duration setting is classified before it ships.
import { afterEach, describe, expect, it } from 'vitest';
import { PROCESS_CONFIGS } from '../../dev/docs/config-reference.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { Scheduler } from '../../kernel/process/scheduler.ts';
import { supervisorConfig } from '../../supervisor/config.ts';
import { startRouterWith } from '../support/router-start.ts';

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;
const NODE_TIMER_MAX_MS = 2 ** 31 - 1;

/** Duration settings no Node timer waits out, by process title and field, with what uses them. */
const NOT_TIMERS: Record<string, string> = {
  'Shared by several processes.idempotencyWindowMs': 'Redis PEXPIRE/PX, and compared in SQLite',
  'Router.idempotencyWindowMs': 'the same field',
  'Supervisor.idempotencyWindowMs': 'the same field, handed to the runtimes',
  'Tenant runtime.idempotencyWindowMs': 'the same field',
  'Router.clockToleranceSeconds': "jose's clock tolerance, compared with token times",
  'Router.jwksCooldownSeconds': "jose's cooldown, compared with the last fetch time",
  'Router.maxTokenAgeSeconds': 'compared with iat',
  'Router.tokenCacheSeconds': "compared with the cache entry's time",
  'Router.sessionIdleTtlSeconds': 'a Redis TTL',
  'Router.routeFreshnessMs': "compared with the route's verification time",
  'Supervisor.idlePauseMs': 'compared with idle time at each idle pass',
  'Supervisor.idleStopMs': 'compared with idle time at each idle pass',
  'Supervisor.idleRemoveMs': 'compared with idle time at each idle pass',
  'Supervisor.replacementProbationMs': "compared with a replacement's age",
  'Supervisor.healthTimeoutMs': 'compared with Date.now() in a 10 ms poll',
  'Supervisor.startCpuBoostIntervalMs': "compared with the tenant's last boost",
  'Supervisor.drainSeconds': "the engine's stop timeout (Docker's own timer)",
  'Supervisor.stopGraceSeconds': "the engine's stop timeout (Docker's own timer)",
  'Supervisor.crashBackoffMs': "compared with the circuit's opening time",
  'Supervisor.helperGraceMs': "compared with a helper's age",
  'Supervisor.maxAgeMs': "compared with a runtime's age",
  'Console.sessionTtlMs': 'a Redis PX, the cookie Max-Age, and compared',
  'Development IdP.accessTokenTtlSeconds': "the token's exp",
};

const fields = PROCESS_CONFIGS.flatMap((config) =>
  Object.entries(config.fields).map(([key, field]) => ({ id: `${config.title}.${key}`, key, field })),
);

/** The problems `resolve` finds in these options: every line of its invalid_config error. */
function problems(resolveOptions: () => unknown): string {
  try {
    resolveOptions();
    return '';
  } catch (error) {
    if (!isBulkheadError(error, 'invalid_config')) throw error;
    return error.message;
  }
}

describe('settings a timer waits out', () => {
  let scheduler: Scheduler | undefined;
  afterEach(async () => {
    await scheduler?.stop();
  });

  it('refuses a 30-day BULKHEAD_HEALTH_INTERVAL_MS, whose timer would wake at once', async () => {
    // The hazard, on the scheduler the supervisor's health pass runs on: its one timer, set for 30
    // days, wakes every millisecond (its clock is read at each wake), and Node only warns. Its
    // warnings are counted here instead of printed.
    const printers = process.listeners('warning');
    const overflows: string[] = [];
    const count = (warning: Error): void => void overflows.push(warning.name);
    process.removeAllListeners('warning').on('warning', count);
    let clockReads = 0;
    try {
      scheduler = new Scheduler({ logger: { warn: () => undefined }, now: () => (clockReads++, Date.now()) });
      scheduler.every('health', THIRTY_DAYS_MS, () => Promise.resolve());
      await new Promise((done) => setTimeout(done, 100));
      await scheduler.stop();
    } finally {
      process.off('warning', count);
      for (const printer of printers) process.on('warning', printer);
    }
    expect(clockReads).toBeGreaterThan(20);
    expect(overflows.filter((name) => name === 'TimeoutOverflowWarning').length).toBeGreaterThan(10);
    // So the supervisor refuses the setting.
    const env = {
      BULKHEAD_ROUTER_PUBLIC_KEY_FILE: '/k.pem',
      BULKHEAD_HEALTH_INTERVAL_MS: String(THIRTY_DAYS_MS),
    };
    expect(() => supervisorConfig.fromEnv(env)).toThrow(
      /BULKHEAD_HEALTH_INTERVAL_MS: 2592000000 is too long: at most 2147483647 ms \(about 24\.8 days/,
    );
  });

  it('stops the router at start with exit code 2, naming the variable and the bound', async () => {
    const run = await startRouterWith({
      BULKHEAD_ISSUER: 'https://idp.example/',
      BULKHEAD_SHUTDOWN_NOTICE_MS: String(THIRTY_DAYS_MS),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^invalid configuration of Router:\n {2}BULKHEAD_SHUTDOWN_NOTICE_MS: 2592000000 is too long: at most 2147483647 ms/,
    );
  });

  const timers = fields.filter(({ field }) => field.timer !== undefined);

  it.each(timers.map(({ id, key, field }) => [id, key, field] as const))(
    '%s is refused one past the bound and taken at it',
    (id, key, field) => {
      const config = PROCESS_CONFIGS.find((c) => id.startsWith(`${c.title}.`))!;
      const name = field.env ?? key;
      const max = field.timer === 'seconds' ? Math.floor(NODE_TIMER_MAX_MS / 1000) : NODE_TIMER_MAX_MS;
      expect(problems(() => config.resolve({ [key]: max + 1 }))).toContain(`\n  ${name}: `);
      // At the bound, only a field whose own schema ends lower is refused (egress's, say).
      const atBound = problems(() => config.resolve({ [key]: max }));
      if (field.schema.safeParse(max).success) expect(atBound).not.toContain(`\n  ${name}: `);
    },
  );

  it('knows of every duration setting whether a timer waits it out', () => {
    const durations = fields.filter(({ key }) => /(Ms|Seconds)$/.test(key));
    const unclassified = durations.filter(
      ({ id, field }) => field.timer === undefined && !(id in NOT_TIMERS),
    );
    expect(unclassified.map(({ id }) => id)).toEqual([]);
    // And the list names no field that is gone or now declares a timer.
    const listed = new Set(durations.filter(({ field }) => field.timer === undefined).map(({ id }) => id));
    expect(Object.keys(NOT_TIMERS).filter((id) => !listed.has(id))).toEqual([]);
    expect(timers.length).toBeGreaterThan(20);
  });
});
