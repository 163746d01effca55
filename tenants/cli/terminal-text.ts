// Text that others wrote, made safe to print on the operator's terminal. A pack's tool
// descriptions, its stderr and its manifest's statements reach the operator's screen in `pack
// approve`; a control character there (an escape sequence that conceals or erases text, a carriage
// return that overwrites a line, a bidirectional override that reorders it) would make the screen
// show something other than what the operator approves. Each is printed as a visible escape instead.

/** C0 and C1 controls, DEL, and the bidirectional formatting characters. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character shown as `\uXXXX`; `newlines`: line feeds are kept. */
export function terminalText(text: string, options: { newlines?: boolean } = {}): string {
  return text.replace(CONTROL, (char) =>
    options.newlines && char === '\n' ? char : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
