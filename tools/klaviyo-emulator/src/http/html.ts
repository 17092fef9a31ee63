/**
 * HTML from a tagged template that escapes every interpolation by default: `html\`<p>${name}</p>\``.
 * A value is inserted unescaped only when it is itself `html`-built (SafeHtml); arrays are joined,
 * each item treated the same way. No hand-written concatenation of markup and data.
 */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

function escapeText(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === false || v === null || v === undefined) return '';
  return escapeText(v);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** A constant of this code base (a style sheet), inserted as is; never data from a request. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
