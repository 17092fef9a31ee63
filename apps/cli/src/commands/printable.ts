/**
 * C0 and C1 control characters (ESC starts terminal escape sequences; 0x9b is a one-byte CSI)
 * and the Unicode bidi overrides and isolates (text that reads differently than it is stored).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');

/**
 * A string from a record (attacker-controlled: an Intercom payload, an error message quoting it)
 * made safe for an operator's terminal: whitespace runs become one space, and every control or
 * bidi character is written as a visible `\xNN` / `\uNNNN` escape instead of being sent raw.
 */
export function printable(s: string): string {
  return s
    .replace(/[\t\n\v\f\r ]+/g, ' ')
    .trim()
    .replace(UNSAFE, (c) => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/**
 * JSON.stringify, then the characters it leaves raw (DEL, C1 controls, bidi marks) as \uNNNN
 * escapes: still the same JSON value, but nothing in it can drive a terminal.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (c) => `\\u${hex(c, 4)}`);
}
