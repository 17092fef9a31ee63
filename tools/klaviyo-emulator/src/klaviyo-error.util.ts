import { randomUUID } from 'node:crypto';

/**
 * One entry of Klaviyo's JSON:API error document. The contracts' ClientError / ServerError responses
 * require `id`, `code`, `title`, `detail` and allow `source.pointer` / `source.parameter`; Klaviyo also
 * sends the numeric `status` (Rate limits, status codes, and errors guide).
 */
export interface KlaviyoErrorObject {
  readonly id: string;
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly source?: { readonly pointer?: string; readonly parameter?: string };
  /** e.g. 409 duplicate_profile: `{ duplicate_profile_id }`. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface KlaviyoErrorBody {
  readonly errors: readonly KlaviyoErrorObject[];
}

export class KlaviyoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly KlaviyoErrorObject[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(errors.map((e) => `${e.code}: ${e.detail}`).join('; '));
  }

  get body(): KlaviyoErrorBody {
    return { errors: this.errors };
  }
}

export function klaviyoError(
  status: number,
  code: string,
  title: string,
  detail: string,
  source?: KlaviyoErrorObject['source'],
): KlaviyoErrorObject {
  return source
    ? { id: randomUUID(), status, code, title, detail, source }
    : { id: randomUUID(), status, code, title, detail };
}

export function invalidInput(detail: string, pointer: string): KlaviyoHttpError {
  return new KlaviyoHttpError(400, [klaviyoError(400, 'invalid', 'Invalid input.', detail, { pointer })]);
}

/**
 * Turns the validator's "<instancePath> <message>" strings into Klaviyo error objects with a
 * JSON pointer into the request body (`/data/attributes/...`).
 */
export function contractViolation(messages: readonly string[]): KlaviyoHttpError {
  const errors = messages.slice(0, 20).map((m) => {
    const space = m.indexOf(' ');
    let pointer = space > 0 ? m.slice(0, space) : '/';
    const message = space > 0 ? m.slice(space + 1) : m;
    const missing = /must have required property '([^']+)'/.exec(message);
    if (missing) pointer = `${pointer === '/' ? '' : pointer}/${missing[1]}`;
    if (pointer === '/') pointer = '/data';
    return klaviyoError(400, 'invalid', 'Invalid input.', `${pointer}: ${message}`, { pointer });
  });
  return new KlaviyoHttpError(400, errors);
}
