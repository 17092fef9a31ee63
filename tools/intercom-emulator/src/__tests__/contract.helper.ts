import { intercomContract, type OpenApiValidator } from '@iks/contracts';

/**
 * The 2.14 validator, with Ajv's "unknown format timestamp" compile warnings muted
 * (the vendor file uses a non-standard format; the warning is about the spec, not our objects).
 */
export function contract(): OpenApiValidator {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('unknown format')) return;
    warn(...args);
  };
  afterAll(() => {
    console.warn = warn;
  });
  return intercomContract();
}

export function expectValidComponent(v: OpenApiValidator, component: string, value: unknown): void {
  const result = v.validateComponent(component, value);
  expect({ component, errors: result.errors }).toEqual({ component, errors: [] });
}

export function expectValidResponse(
  v: OpenApiValidator,
  method: string,
  path: string,
  status: number,
  body: unknown,
): void {
  const result = v.validateResponseBody(method, path, status, body);
  expect({ path, status, errors: result.errors }).toEqual({ path, status, errors: [] });
}
