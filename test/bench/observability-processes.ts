// The benchmark's side of test/bench/observability-router.ts (observability-overhead.ts
// --processes): a router started in a process of its own, and the messages it answers over IPC.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

/** What the benchmark asks: `gc` (a full collection), `flush` (export the spans queued), `cpu`. */
export type RouterMessage = 'gc' | 'flush' | 'cpu';
export interface RouterAnswer {
  asked: RouterMessage | 'ready';
  /** `ready`: the router's MCP endpoint. */
  url?: string;
  /** `cpu`: the router process's CPU time and its event loop thread's, µs since it started. */
  processUs?: number;
  loopUs?: number;
}

/** A router in a process of its own (test/bench/observability-router.ts), driven over IPC. */
export interface RouterProcess {
  ask(message: RouterMessage): Promise<RouterAnswer>;
  close(): Promise<void>;
}

export async function forkRouter(
  args: Record<string, string>,
): Promise<{ url: string; process: RouterProcess }> {
  const child = fork(
    resolve(import.meta.dirname, 'observability-router.ts'),
    Object.entries(args).flatMap(([name, value]) => [`--${name}`, value]),
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const answers: ((answer: RouterAnswer) => void)[] = [];
  let ready: ((url: string) => void) | undefined;
  const started = new Promise<string>((resolve_) => (ready = resolve_));
  child.on('message', (answer: RouterAnswer) => {
    if (answer.asked === 'ready') return ready?.(answer.url!);
    answers.shift()?.(answer);
  });
  const exited = once(child, 'exit');
  const url = await Promise.race([
    started,
    exited.then(([code]) => {
      throw new Error(`a router process ended before it listened (exit ${String(code)})`);
    }),
  ]);
  return {
    url,
    process: {
      // One question at a time per router (the benchmark awaits each), answered in order.
      ask: (message) =>
        new Promise<RouterAnswer>((resolve_) => {
          answers.push(resolve_);
          child.send(message);
        }),
      close: async () => {
        child.disconnect();
        await exited;
      },
    },
  };
}
