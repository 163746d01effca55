// Watches the engine's own event stream for this namespace's tenant containers: an independent
// count of what the supervisor asked the engine for (creates, starts), not the supervisor's word.
import type Docker from 'dockerode';

export interface CreateWatch {
  creates: Map<string, number>;
  /** Highest number of tenant containers created but not yet started, at any moment. */
  maxInFlight(): number;
  stop(): void;
}

export async function watchCreates(docker: Docker, namespace: string): Promise<CreateWatch> {
  const stream = (await docker.getEvents({
    filters: {
      type: ['container'],
      event: ['create', 'start'],
      label: [`io.bulkhead.namespace=${namespace}`],
    },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const creates = new Map<string, number>();
  const pending = new Set<string>();
  let max = 0;
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line) as {
        Action: string;
        Actor: { ID: string; Attributes: Record<string, string> };
      };
      const tenant = event.Actor.Attributes['io.bulkhead.tenant'];
      if (!tenant) continue; // helpers (volume init) carry no tenant label
      if (event.Action === 'create') {
        creates.set(tenant, (creates.get(tenant) ?? 0) + 1);
        pending.add(event.Actor.ID);
        max = Math.max(max, pending.size);
      } else if (event.Action === 'start') pending.delete(event.Actor.ID);
    }
  });
  return { creates, maxInFlight: () => max, stop: () => stream.destroy() };
}

/** One event of the engine's stream (the fields the tests read). */
export interface EngineEvent {
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

/** The events of recordEvents' `text` about the container `id`, in the engine's order. */
export function containerEvents(text: string, id: string): EngineEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as EngineEvent)
    .filter((event) => event.Actor.ID === id);
}

/** Every event the engine reports about this namespace's containers, as the engine wrote it. */
export async function recordEvents(
  docker: Docker,
  namespace: string,
): Promise<{ text(): string; stop(): void }> {
  const stream = (await docker.getEvents({
    filters: { type: ['container'], label: [`io.bulkhead.namespace=${namespace}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { text: () => text, stop: () => stream.destroy() };
}
