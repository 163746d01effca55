// Scrapes a Prometheus text exposition (kernel/process/prometheus-text.ts reads it) so that tests can
// compare scraped counters and histogram counts with the calls they made.
import { parseExposition, type Sample } from '../../kernel/process/prometheus-text.ts';

export { parseExposition, type Sample };

/** The sum of every sample of `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return parseExposition(await response.text());
}
