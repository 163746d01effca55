// The periodic loops of one process on one timer: each task runs every `intervalMs` (its first pass
// one interval after it is added), never two passes of one task at once (a slow pass delays its
// next one; it is never stacked), and a failed pass is logged once and tried again at the next
// interval: the loops heal, they do not die. `stop()` cancels what is due and waits for the passes
// still running, so a process closes its connections only after its loops have finished with them.
import { BulkheadError } from '../errors/bulkhead-error.ts';

interface Task {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  dueAt: number;
  running: Promise<void> | undefined;
}

/** Where failed passes go (a pino logger fits). */
export interface SchedulerLogger {
  warn(fields: object, message: string): void;
}

export interface SchedulerOptions {
  logger: SchedulerLogger;
  /** The clock (tests use fake timers, which replace Date.now as well). */
  now?: () => number;
}

export class Scheduler {
  private readonly tasks: Task[] = [];
  private readonly logger: SchedulerLogger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: SchedulerOptions) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  every(name: string, intervalMs: number, task: () => Promise<unknown>): void {
    if (this.stopped) throw new BulkheadError('invalid_config', `scheduler stopped: cannot add ${name}`);
    if (!(intervalMs > 0))
      throw new BulkheadError('invalid_config', `interval of ${name} must be positive, got ${intervalMs}`);
    this.tasks.push({ name, intervalMs, run: task, dueAt: this.now() + intervalMs, running: undefined });
    this.arm();
  }

  /** Cancels every pass not yet started and waits for those running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.tasks.flatMap((task) => (task.running ? [task.running] : [])));
  }

  /** One timer, set for the task due first among those not running. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const idle = this.tasks.filter((task) => !task.running);
    if (idle.length === 0) return;
    const next = Math.min(...idle.map((task) => task.dueAt));
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - this.now()));
    // The loops never keep a process alive on their own.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    for (const task of this.tasks) if (!task.running && task.dueAt <= now) this.start(task);
    this.arm();
  }

  private start(task: Task): void {
    const startedAt = this.now();
    task.running = Promise.resolve()
      .then(task.run)
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn({ err: error, loop: task.name }, 'periodic pass failed'),
      )
      .finally(() => {
        task.running = undefined;
        // Every interval from the last start; a pass longer than that starts the next at once.
        task.dueAt = Math.max(startedAt + task.intervalMs, this.now());
        this.arm();
      });
  }
}
