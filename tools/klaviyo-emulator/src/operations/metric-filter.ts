import { klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import type { StoredMetric } from '../klaviyo-emulator.store';

/**
 * get_metrics' `filter` ("Allowed field(s)/operator(s): `integration.name`: `equals`,
 * `integration.category`: `equals`"), in Klaviyo's filter syntax: `equals(integration.name,"Intercom")`
 * (single or double quotes), several conditions joined by `and(...)`. Anything else is 400 with
 * `source.parameter: filter`, as Klaviyo answers an unsupported filter.
 */
export type MetricFilter = (m: StoredMetric) => boolean;

const FIELDS: Readonly<Record<string, (m: StoredMetric) => string>> = {
  'integration.name': (m) => m.integration.name,
  'integration.category': (m) => m.integration.category,
};

const bad = (detail: string) =>
  new KlaviyoHttpError(400, [
    klaviyoError(400, 'invalid', 'Invalid filter provided.', detail, { parameter: 'filter' }),
  ]);

export function parseMetricFilter(text: string): MetricFilter {
  const p = new Parser(text);
  const filter = p.expression();
  p.skipSpaces();
  if (!p.done()) throw bad(`Unexpected "${text.slice(p.pos)}" in filter.`);
  return filter;
}

class Parser {
  pos = 0;

  constructor(private readonly text: string) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  expression(): MetricFilter {
    this.skipSpaces();
    const name = this.word();
    this.expect('(');
    if (name === 'and') {
      const parts = [this.expression()];
      for (this.skipSpaces(); this.text[this.pos] === ','; this.skipSpaces()) {
        this.pos++;
        parts.push(this.expression());
      }
      this.expect(')');
      return (m) => parts.every((f) => f(m));
    }
    if (name !== 'equals')
      throw bad(
        `Operator "${name}" is not supported for this endpoint; use equals on integration.name or integration.category.`,
      );
    this.skipSpaces();
    const field = this.word();
    const read = Object.prototype.hasOwnProperty.call(FIELDS, field) ? FIELDS[field] : undefined;
    if (!read) throw bad(`Filtering on "${field}" is not supported; allowed: integration.name, integration.category.`);
    this.expect(',');
    this.skipSpaces();
    const value = this.string();
    this.expect(')');
    return (m) => read(m) === value;
  }

  private word(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(this.text.slice(this.pos));
    if (!m) throw bad(`Expected an operator or a field at position ${this.pos} of the filter.`);
    this.pos += m[0].length;
    return m[0];
  }

  private string(): string {
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'")
      throw bad('The value must be a quoted string, e.g. equals(integration.name,"Intercom").');
    let out = '';
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos];
      if (c === '\\' && this.pos + 1 < this.text.length) {
        out += this.text[++this.pos];
        continue;
      }
      if (c === quote) {
        this.pos++;
        return out;
      }
      out += c;
    }
    throw bad('Unterminated string in filter.');
  }

  private expect(c: string): void {
    this.skipSpaces();
    if (this.text[this.pos] !== c) throw bad(`Expected "${c}" at position ${this.pos} of the filter.`);
    this.pos++;
  }
}
