// How every benchmark prints its figures: one line per measured path, with the same quantiles.
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The median of values in any order (the upper one of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export interface FigureOptions {
  /** Decimal places of the millisecond figures (default 1). */
  digits?: number;
  labelWidth?: number;
  /** Appended to the line, e.g. a throughput. */
  extra?: string;
}

/** Prints n, p50, p95, p99, min and max of `samples` (milliseconds) and returns the p50. */
export function printFigures(label: string, samples: readonly number[], options: FigureOptions = {}): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const digits = options.digits ?? 1;
  const ms = (n: number): string => `${n.toFixed(digits).padStart(6 + digits)} ms`;
  const p50 = quantile(sorted, 0.5);
  console.log(
    `${label.padEnd(options.labelWidth ?? 52)} n=${String(sorted.length).padStart(3)} ` +
      `p50=${ms(p50)} p95=${ms(quantile(sorted, 0.95))} p99=${ms(quantile(sorted, 0.99))} ` +
      `min=${ms(sorted[0] ?? NaN)} max=${ms(sorted.at(-1) ?? NaN)}${options.extra ?? ''}`,
  );
  return p50;
}

/** Runs `fn` `n` times one after another; the milliseconds of each run. */
export async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return samples;
}
