import { klaviyoContract, type OpenApiValidator } from '@iks/contracts';
import type { KlaviyoOperation } from '../klaviyo-emulator.constants';
import { contractViolation, klaviyoError, KlaviyoHttpError } from '../klaviyo-error.util';
import { POST_ROUTES, type Route } from './route';

interface QueryParameter {
  /** For `type: array, explode: false` parameters: the values each comma-separated item may take. */
  readonly enum?: readonly string[];
}

/**
 * Parses a request body and validates it against the operation's request schema in contracts/klaviyo;
 * knows each operation's scopes (`x-klaviyo-scopes`) and query parameters.
 */
export class ContractValidation {
  private readonly contracts = new Map<KlaviyoOperation, OpenApiValidator>();
  private readonly scopesByOp = new Map<KlaviyoOperation, readonly string[]>();
  private readonly queryByOp = new Map<KlaviyoOperation, ReadonlyMap<string, QueryParameter>>();

  constructor(operations: readonly KlaviyoOperation[]) {
    for (const op of operations) {
      const contract = klaviyoContract(op);
      this.contracts.set(op, contract);
      for (const methods of Object.values(contract.document.paths)) {
        for (const operation of Object.values(methods)) {
          if (operation?.operationId !== op) continue;
          this.scopesByOp.set(op, operation['x-klaviyo-scopes'] ?? []);
          const query = new Map<string, QueryParameter>();
          for (const p of operation.parameters ?? []) {
            if (p.in !== 'query') continue;
            query.set(
              p.name,
              p.schema?.type === 'array' && Array.isArray(p.schema.items?.enum) ? { enum: p.schema.items.enum } : {},
            );
          }
          this.queryByOp.set(op, query);
        }
      }
      if (!this.scopesByOp.has(op)) throw new Error(`contracts/klaviyo/${op}.json has no operation ${op}`);
    }
    // Compile every request validator now, not on the first (timed) request.
    for (const [path, op] of Object.entries(POST_ROUTES)) this.contracts.get(op)!.validateRequestBody('post', path, {});
  }

  /** The scopes the operation's description lists ("**Scopes:**"); a token needs every one. */
  scopes(op: KlaviyoOperation): readonly string[] {
    return this.scopesByOp.get(op) ?? [];
  }

  /** 400 `invalid` with `source.parameter` for a query parameter the contract does not declare or a value outside its enum. */
  checkQuery(route: Route, query: URLSearchParams): void {
    const declared = this.queryByOp.get(route.op)!;
    for (const [name, value] of query) {
      const p = declared.get(name);
      if (!p) {
        throw new KlaviyoHttpError(400, [
          klaviyoError(
            400,
            'invalid',
            'Invalid input.',
            `'${name}' is not a valid query parameter for this endpoint.`,
            { parameter: name },
          ),
        ]);
      }
      if (p.enum) {
        for (const item of value.split(',')) {
          if (!p.enum.includes(item)) {
            throw new KlaviyoHttpError(400, [
              klaviyoError(
                400,
                'invalid',
                'Invalid input.',
                `'${item}' is not a valid value for ${name}; allowed: ${p.enum.join(', ')}.`,
                { parameter: name },
              ),
            ]);
          }
        }
      }
    }
  }

  /** The parsed body; 413 past 5 MB, 400 `parse_error` for bad JSON, 400 `invalid` naming each pointer. */
  parse(route: Route, raw: Buffer | 'too-large'): unknown {
    if (raw === 'too-large') {
      throw new KlaviyoHttpError(413, [
        klaviyoError(413, 'payload_too_large', 'Payload too large.', 'The maximum allowed payload size is 5MB.'),
      ]);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new KlaviyoHttpError(400, [
        klaviyoError(400, 'parse_error', 'Malformed request.', `JSON parse error - ${(e as Error).message}`, {
          pointer: '/',
        }),
      ]);
    }
    const result = this.contracts.get(route.op)!.validateRequestBody('post', route.contractPath, body);
    if (!result.valid) throw contractViolation(result.errors);
    return body;
  }
}
