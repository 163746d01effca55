// JSON text that another process wrote (a runtime's answer, a Redis field): its value, or undefined
// when it does not parse, for the caller's schema to refuse with its own error.
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
