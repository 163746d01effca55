// Loaded into each soak process (node --import): answers the soak's "memory" message with
// process.memoryUsage() and the event loop's delay since the last answer (p99 and max, ms), so that
// the soak can print V8's heap beside the RSS, and how late the process's own timers ran; "gc"
// first runs a full garbage collection (the process runs with --expose-gc), so that the heap in use
// before and after the load can be compared without the garbage not yet collected.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 20 });
delay.enable();
process.channel?.unref();
process.on('message', (message) => {
  if (message !== 'memory' && message !== 'gc') return;
  if (message === 'gc') globalThis.gc?.();
  const lag = { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
  delay.reset();
  process.send?.({ ...process.memoryUsage(), lag });
});
