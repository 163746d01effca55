// What the router answers a runtime's question with when the client could not be asked (a 2025
// session's client refused the request, failed or did not answer in time): not an answer, but word
// that none will come, so the pack's pending request fails at once (runtime-image/src/packs/
// pack-exchanges.ts) instead of holding the pack's call until the runtime's wait for an answer
// ends. A client sending it for its own question only declines that question.
export const UNANSWERED = { 'io.bulkhead/unanswered': true } as const;

export function isUnanswered(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<string, unknown>)['io.bulkhead/unanswered'] === true
  );
}
