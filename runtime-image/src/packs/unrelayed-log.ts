// A pack's log messages that reach no caller (sent between calls, or during more than one:
// pack-host.ts) are kept in the runtime's log, where a pack's stderr goes, within a bound per pack:
// the runtime's logger writes asynchronously and holds every line its output has not taken yet, so
// a pack that sends them without end, faster than the container's log is read, would grow that
// backlog in the runtime's memory, and fill the tenant's log for nothing.
import type { Logger } from 'pino';

/** The most of an unrelayed log message's data (as JSON) the runtime's log keeps. */
export const LOG_DATA_LIMIT = 2048;
/** Unrelayed log messages of one pack the runtime's log keeps in a minute; the rest are counted. */
export const UNRELAYED_LOGGED_PER_MINUTE = 60;
const MINUTE_MS = 60_000;

interface Allowance {
  since: number;
  logged: number;
  /** Not logged since the last line that was. */
  dropped: number;
  /** This minute's first drop was logged. */
  warned: boolean;
}

export class UnrelayedLog {
  private readonly allowances = new Map<string, Allowance>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(log: Logger, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /** One message of `pack` that reached no caller, sent while `calls` calls were in flight to it. */
  note(
    pack: string,
    calls: number,
    params: { level: string; logger?: string | undefined; data?: unknown },
  ): void {
    const now = this.now();
    let allowance = this.allowances.get(pack);
    if (!allowance || now - allowance.since >= MINUTE_MS) {
      allowance = { since: now, logged: 0, dropped: allowance?.dropped ?? 0, warned: false };
      this.allowances.set(pack, allowance);
    }
    // Dropped before it is serialized: a flood costs its parse, no more.
    if (allowance.logged >= UNRELAYED_LOGGED_PER_MINUTE) {
      allowance.dropped += 1;
      if (!allowance.warned) {
        allowance.warned = true;
        this.log.warn(
          { pack, limit: UNRELAYED_LOGGED_PER_MINUTE },
          "a pack's log messages that reach no caller passed the log's bound: the rest of this minute's are counted, not logged",
        );
      }
      return;
    }
    allowance.logged += 1;
    const { dropped } = allowance;
    allowance.dropped = 0;
    const { level, logger, data } = params;
    this.log.info(
      {
        pack,
        level,
        logger,
        calls,
        data: (JSON.stringify(data) ?? '').slice(0, LOG_DATA_LIMIT),
        ...(dropped > 0 ? { dropped } : {}),
      },
      dropped > 0
        ? `pack log message with no single call in flight: not relayed to a caller (${dropped} before it not logged: over ${UNRELAYED_LOGGED_PER_MINUTE} a minute)`
        : 'pack log message with no single call in flight: not relayed to a caller',
    );
  }
}
