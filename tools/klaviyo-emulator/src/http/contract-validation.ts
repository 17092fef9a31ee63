import { klaviyoContract, type OpenApiValidator } from '@iks/contracts';
import type { KlaviyoOperation } from '../klaviyo-emulator.constants';
import { contractViolation, klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { POST_ROUTES, type Route } from './route';

/** Parses a request body and validates it against the operation's request schema in contracts/klaviyo. */
export class ContractValidation {
  private readonly contracts = new Map<KlaviyoOperation, OpenApiValidator>();

  constructor(operations: readonly KlaviyoOperation[]) {
    for (const op of operations) this.contracts.set(op, klaviyoContract(op));
    // Compile every request validator now, not on the first (timed) request.
    for (const [path, op] of Object.entries(POST_ROUTES)) this.contracts.get(op)!.validateRequestBody('post', path, {});
  }

  /** The parsed body; 413 past 5 MB, 400 `parse_error` for bad JSON, 400 `invalid` naming each pointer. */
  parse(route: Route, raw: Buffer | 'too-large'): any {
    if (raw === 'too-large') {
      throw new KlaviyoHttpError(413, [klaviyoError(413, 'payload_too_large', 'Payload too large.', 'The maximum allowed payload size is 5MB.')]);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new KlaviyoHttpError(400, [klaviyoError(400, 'parse_error', 'Malformed request.', `JSON parse error - ${(e as Error).message}`, { pointer: '/' })]);
    }
    const result = this.contracts.get(route.op)!.validateRequestBody('post', route.contractPath, body);
    if (!result.valid) throw contractViolation(result.errors);
    return body;
  }
}
