import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

/** Where the vendors' OpenAPI descriptions live (copied from the vendors, see contracts/). */
export const CONTRACTS_DIR = findUp(__dirname, 'contracts/intercom');

function findUp(from: string, marker: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, marker))) return join(dir, marker.split('/')[0]);
    if (dirname(dir) === dir) throw new Error(`cannot find ${marker} above ${from}`);
  }
}

/** The parts of an OpenAPI 3.0 description this validator and its callers read. */
export interface OpenApiParameter {
  readonly name: string;
  readonly in: string;
  readonly schema?: { readonly type?: string; readonly items?: { readonly enum?: readonly string[] } };
}
export interface OpenApiMediaType {
  readonly schema?: unknown;
}
export interface OpenApiOperation {
  readonly operationId?: string;
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly content?: Record<string, OpenApiMediaType> };
  readonly responses?: Record<string, { readonly content?: Record<string, OpenApiMediaType> }>;
  readonly 'x-klaviyo-scopes'?: readonly string[];
}
export interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation | undefined>>;
  readonly components: {
    readonly schemas: Record<string, unknown>;
    readonly responses: Record<string, { readonly content: Record<string, OpenApiMediaType> }>;
  };
}

export interface ValidationResult {
  readonly valid: boolean;
  readonly errors: readonly string[];
}

/**
 * Validates objects against schemas of an OpenAPI 3.0 description with Ajv.
 * OpenAPI 3.0 schemas are JSON Schema draft-04-ish plus `nullable`, which Ajv
 * understands natively; vendor extensions and `example` are ignored (strict off).
 */
export class OpenApiValidator {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly docId: string;

  constructor(
    readonly document: OpenApiDocument,
    name: string,
  ) {
    this.docId = `openapi:${name}`;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, discriminator: false });
    addFormats(this.ajv);
    this.ajv.addSchema(normalizeNullable(structuredClone(document)), this.docId);
  }

  static fromFile(path: string): OpenApiValidator {
    const text = readFileSync(path, 'utf8');
    const doc = (path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as OpenApiDocument;
    return new OpenApiValidator(doc, path);
  }

  /** Validate against `#/components/schemas/<name>`. */
  validateComponent(name: string, value: unknown): ValidationResult {
    if (!this.document.components?.schemas?.[name]) throw new Error(`no schema components.schemas.${name}`);
    return this.run(`#/components/schemas/${name}`, value);
  }

  /** Validate a JSON request body of `method path`. */
  validateRequestBody(method: string, path: string, body: unknown): ValidationResult {
    const op = this.document.paths?.[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`no operation ${method.toUpperCase()} ${path}`);
    if (!op.requestBody?.content?.['application/vnd.api+json'] && !op.requestBody?.content?.['application/json']) {
      throw new Error(`${method.toUpperCase()} ${path} has no JSON request body`);
    }
    const type = op.requestBody.content['application/vnd.api+json'] ? 'application~1vnd.api+json' : 'application~1json';
    return this.run(`#/paths/${escapePointer(path)}/${method.toLowerCase()}/requestBody/content/${type}/schema`, body);
  }

  /** Validate a JSON response body of `method path` with `status`. */
  validateResponseBody(method: string, path: string, status: number, body: unknown): ValidationResult {
    const op = this.document.paths?.[path]?.[method.toLowerCase()];
    const res = op?.responses?.[String(status)];
    if (!res) throw new Error(`no response ${status} for ${method.toUpperCase()} ${path}`);
    const type = res.content?.['application/vnd.api+json'] ? 'application~1vnd.api+json' : 'application~1json';
    return this.run(
      `#/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}/content/${type}/schema`,
      body,
    );
  }

  private run(pointer: string, value: unknown): ValidationResult {
    let fn = this.cache.get(pointer);
    if (!fn) {
      fn = this.ajv.getSchema(`${this.docId}${pointer}`);
      if (!fn) throw new Error(`cannot compile ${pointer}`);
      this.cache.set(pointer, fn);
    }
    const valid = fn(value) as boolean;
    return { valid, errors: valid ? [] : formatErrors(fn.errors ?? []) };
  }
}

/**
 * OpenAPI 3.0 `nullable: true` means "or null". Ajv needs it beside a `type`, so rewrite
 * it into plain JSON Schema everywhere: `type: [t, 'null']`, or `anyOf: [schema, {type: 'null'}]`.
 */
function normalizeNullable<T>(value: T): T;
function normalizeNullable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeNullable);
  if (!value || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  for (const k of Object.keys(node)) node[k] = normalizeNullable(node[k]);
  if (node.nullable === true) {
    delete node.nullable;
    if (typeof node.type === 'string') {
      node.type = [node.type, 'null'];
      if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
    } else {
      const inner = { ...node };
      for (const k of Object.keys(node)) if (k !== 'description' && k !== 'title') delete node[k];
      node.anyOf = [inner, { type: 'null' }];
    }
  } else if (node.nullable === false) {
    delete node.nullable;
  }
  return node;
}

function escapePointer(path: string): string {
  return path.replace(/~/g, '~0').replace(/\//g, '~1').replace(/{/g, '%7B').replace(/}/g, '%7D');
}

function formatErrors(errors: readonly ErrorObject[]): string[] {
  return errors.map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
  );
}

let intercom: OpenApiValidator | undefined;
/** Intercom API 2.14 (contracts/intercom/api.intercom.io.2.14.yaml). */
export function intercomContract(): OpenApiValidator {
  intercom ??= OpenApiValidator.fromFile(join(CONTRACTS_DIR, 'intercom', 'api.intercom.io.2.14.yaml'));
  return intercom;
}

const klaviyo = new Map<string, OpenApiValidator>();
/** One Klaviyo operation's description (contracts/klaviyo/<operation>.json, revision 2026-07-15). */
export function klaviyoContract(operation: string): OpenApiValidator {
  let v = klaviyo.get(operation);
  if (!v) {
    v = OpenApiValidator.fromFile(join(CONTRACTS_DIR, 'klaviyo', `${operation}.json`));
    klaviyo.set(operation, v);
  }
  return v;
}
