// A pack process started before the runtime's bundle is loaded (reference-prestart.ts, run by the
// image's entry), handed to the pack host when it starts that pack. Both sides are bundled apart
// (the entry's small bundle, the runtime's large one) and run in the same V8 context, so the hand-off
// is a slot on globalThis. A prestarted process is adopted only when its argv, environment and
// working directory are exactly what the pack host would launch (pack-launch.ts): it is the process
// the runtime would have started, only started earlier. One not adopted is killed.
import type { ChildProcessWithoutNullStreams as ChildProcess } from 'node:child_process';
import type { PackLaunch } from './pack-launch.ts';

export interface Prestarted {
  launch: PackLaunch;
  child: ChildProcess;
  /** Set by the events the child emitted before adoption: the transport can no longer hear them. */
  spawned: boolean;
  error: Error | undefined;
  exited: boolean;
  /** The legacy records database was moved before the start (the runtime logs it). */
  movedLegacyRecords: boolean;
}

const SLOT = Symbol.for('bulkhead.prestarted-packs');
type Slot = { [SLOT]?: Prestarted[] };

function slot(): Prestarted[] {
  return ((globalThis as Slot)[SLOT] ??= []);
}

/** Listens for the events the child may emit before adoption, and offers it. */
export function offerPrestarted(
  launch: PackLaunch,
  child: ChildProcess,
  movedLegacyRecords: boolean,
): Prestarted {
  const entry: Prestarted = {
    launch,
    child,
    spawned: false,
    error: undefined,
    exited: false,
    movedLegacyRecords,
  };
  child.once('spawn', () => (entry.spawned = true));
  // An unheard 'error' would end the runtime: recorded, and the adopting transport reports it.
  child.once('error', (error) => (entry.error = error));
  child.once('exit', () => (entry.exited = true));
  slot().push(entry);
  return entry;
}

function sameLaunch(a: PackLaunch, b: PackLaunch): boolean {
  const env = (launch: PackLaunch): string => JSON.stringify(Object.entries(launch.env).sort());
  return (
    a.command === b.command &&
    a.cwd === b.cwd &&
    a.args.length === b.args.length &&
    a.args.every((arg, i) => arg === b.args[i]) &&
    env(a) === env(b)
  );
}

/** The prestarted process launched exactly as `launch`, taken out of the slot; else undefined. */
export function takePrestarted(launch: PackLaunch): Prestarted | undefined {
  const list = slot();
  const at = list.findIndex((entry) => sameLaunch(entry.launch, launch));
  return at === -1 ? undefined : list.splice(at, 1)[0];
}

/** Whether the entry moved the legacy records database (read once, by the runtime's start). */
export function prestartMovedLegacyRecords(): boolean {
  return slot().some((entry) => entry.movedLegacyRecords);
}

/** Kills every prestarted process nobody adopted (its whole process group, as the transport would). */
export function discardPrestarted(): number {
  const list = slot().splice(0);
  for (const { child } of list) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return list.length;
}
