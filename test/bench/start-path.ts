// The path around a start, phase by phase, for the lifecycle benchmark: where a call that starts or
// wakes its tenant's runtime spends the time that is not the container starting. Asserts nothing.
// Read from what the parts record anyway, without changing them: the ensure job's own timestamps in
// Redis (added by the router, taken by the supervisor's worker, finished), and the requests the
// router sends to the runtime (undici's diagnostics channels: server/discover, tools/list for the
// tool definition check, the call). Every part runs in the benchmark's process, on one clock.
import { subscribe } from 'node:diagnostics_channel';
import type { Queue, QueueEvents } from 'bullmq';
import { printFigures } from './figures.ts';

/** The phases of one call that started or woke its runtime, in ms, in the order they happen. */
export const PHASES = [
  ['toJob', 'client -> ensure job added (auth, pipeline, touch)'],
  ['pickUp', 'job added -> taken by the supervisor worker'],
  ['supervisor', "job taken -> finished (the supervisor's work)"],
  ['delivery', "job finished -> its completion event read (a QueueEvents of the bench's own)"],
  ['routeSetUp', 'completion event -> the router sends its first request'],
  ['discover', 'server/discover (a route with no known answer)'],
  ['toolsList', 'tools/list (the tool definition check)'],
  ['between', "between the router's requests, before the call"],
  ['call', 'the call itself (tools/call, sent -> answered)'],
  ['after', 'answer from the runtime -> the client has it'],
] as const;
export type Phase = (typeof PHASES)[number][0];

interface RuntimeRequest {
  method: string;
  sent: number;
  done: number;
}

interface Clock {
  t0: number;
  requests: RuntimeRequest[];
}

const now = (): number => performance.timeOrigin + performance.now();

function headerOf(headers: unknown, name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2)
    if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  return undefined;
}

interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  headers?: unknown;
}

/** Records the router's requests to tenant runtimes (origin http://tenant) while a call runs. */
export class StartPath {
  private clock: Clock | undefined;
  private readonly open = new WeakMap<object, RuntimeRequest>();

  constructor() {
    subscribe('undici:request:create', (message) => {
      const { request } = message as { request: UndiciRequest };
      if (!this.clock || request.origin !== 'http://tenant' || request.path !== '/mcp') return;
      const entry = { method: headerOf(request.headers, 'mcp-method') ?? '?', sent: now(), done: NaN };
      this.open.set(request, entry);
      this.clock.requests.push(entry);
    });
    subscribe('undici:request:trailers', (message) => {
      const entry = this.open.get((message as { request: object }).request);
      if (entry) entry.done = now();
    });
  }

  /** Starts the clock of one call; call `phases` once it has been answered. */
  begin(): void {
    this.clock = { t0: now(), requests: [] };
  }

  /**
   * The phases of the call begun last (the client has its answer now); `seen`: when a QueueEvents
   * like the router's read each job's completion (completionTimes).
   */
  async phases(
    queue: Queue,
    seen: ReadonlyMap<string, number>,
    tenant: string,
  ): Promise<Record<Phase, number>> {
    const end = now();
    const clock = this.clock;
    this.clock = undefined;
    if (!clock) throw new Error('phases() without begin()');
    const jobs = await queue.getJobs(['completed'], 0, 20, false);
    const job = jobs.find(
      (j) => j.name === 'ensure' && (j.data as { tenantId?: string }).tenantId === tenant,
    );
    const added = job && job.timestamp >= clock.t0 - 1 ? job.timestamp : NaN;
    const picked = added ? (job?.processedOn ?? NaN) : NaN;
    const finished = added ? (job?.finishedOn ?? NaN) : NaN;
    const delivered = (job?.id === undefined ? undefined : seen.get(job.id)) ?? NaN;
    const of = (method: string): RuntimeRequest | undefined =>
      clock.requests.find((r) => r.method === method);
    const span = (r: RuntimeRequest | undefined): number => (r ? r.done - r.sent : 0);
    const call = of('tools/call');
    const discover = span(of('server/discover'));
    const toolsList = span(of('tools/list'));
    return {
      toJob: added - clock.t0,
      pickUp: picked - added,
      supervisor: finished - picked,
      delivery: delivered - finished,
      routeSetUp: (clock.requests[0]?.sent ?? NaN) - delivered,
      discover,
      toolsList,
      between: (call?.sent ?? NaN) - (clock.requests[0]?.sent ?? NaN) - discover - toolsList,
      call: span(call),
      after: end - (call?.done ?? NaN),
    };
  }
}

/** When each job's completion event was read, by a QueueEvents of its own (as the router's reads it). */
export function completionTimes(events: QueueEvents): Map<string, number> {
  const seen = new Map<string, number>();
  events.on('completed', ({ jobId }) => seen.set(jobId, now()));
  return seen;
}

/** One line per phase; `tag` marks the lane (e.g. " [new]"). Phases a path never took print 0. */
export function printPhases(samples: Record<Phase, number>[], tag: string): void {
  for (const [key, label] of PHASES)
    printFigures(`    ${label}${tag}`, samples.map((s) => s[key]).filter(Number.isFinite), {
      digits: 1,
      labelWidth: 72,
    });
}
