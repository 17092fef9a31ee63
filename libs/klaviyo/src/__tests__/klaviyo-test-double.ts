/**
 * A small stand-in for a.klaviyo.com for specs (node:http on port 0): records every request,
 * checks its body against contracts/klaviyo, and answers like Klaviyo: 202 for accepted jobs,
 * 400 with a JSON:API error and source.pointer, or whatever a spec scripts (429 + Retry-After,
 * 5xx). Not the full emulator (tools/klaviyo-emulator).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  buildBulkCreateEventsBody,
  buildCreateEventBody,
  buildProfileDeletionBody,
  buildProfileImportBody,
} from '../request-builders';
import { klaviyoContract } from '@iks/contracts';

/** The bodies the deliverers send (request-builders.ts), by path. */
export type BulkCreateEventsBody = ReturnType<typeof buildBulkCreateEventsBody>;
export type CreateEventBody = ReturnType<typeof buildCreateEventBody>;
export type ProfileImportBody = ReturnType<typeof buildProfileImportBody>;
export type ProfileDeletionBody = ReturnType<typeof buildProfileDeletionBody>;

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body: one of the bodies above, by path (contractErrors says whether it is valid). */
  readonly body: unknown;
  /** Contract validation errors of the body ([] when valid). */
  readonly contractErrors: readonly string[];
  readonly at: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Never answer (to test timeouts). */
  readonly hang?: boolean;
  /** Answer after this long. */
  readonly delayMs?: number;
}

export type Responder = (req: RecordedRequest) => Reply;

const OPERATIONS: Record<string, string> = {
  '/api/event-bulk-create-jobs': 'bulk_create_events',
  '/api/events': 'create_event',
  '/api/profile-import': 'create_or_update_profile',
  '/api/data-privacy-deletion-jobs': 'request_profile_deletion',
};

export function klaviyoError(status: number, code: string, detail: string, pointer?: string): Reply {
  return {
    status,
    headers: { 'content-type': 'application/vnd.api+json' },
    body: {
      errors: [
        {
          id: `err-${Math.random().toString(16).slice(2)}`,
          status,
          code,
          title: code,
          detail,
          ...(pointer ? { source: { pointer } } : {}),
        },
      ],
    },
  };
}

/** The default Klaviyo: contract-valid bodies are accepted; a `poison: true` event property is refused with a pointer. */
export const defaultResponder: Responder = (req) => {
  if (req.contractErrors.length) return klaviyoError(400, 'invalid', req.contractErrors.join('; '), '/data');
  switch (req.path) {
    case '/api/event-bulk-create-jobs': {
      const entries = (req.body as BulkCreateEventsBody).data.attributes['events-bulk-create'].data;
      const seen = new Set<string>();
      for (const [i, e] of entries.entries()) {
        const p = e.attributes.profile.data.attributes;
        for (const ev of e.attributes.events.data) {
          for (const id of [p.email && `e:${p.email.toLowerCase()}`, p.phone_number && `p:${p.phone_number}`].filter(
            Boolean,
          )) {
            const k = `${id}|${ev.attributes.metric.data.attributes.name}|${ev.attributes.unique_id}`;
            if (seen.has(k))
              return klaviyoError(400, 'duplicate_unique_id', 'unique_id repeated for the same profile and metric');
            seen.add(k);
          }
          if (ev.attributes.properties?.poison === true) {
            return klaviyoError(
              400,
              'invalid',
              'poisoned event',
              `/data/attributes/events-bulk-create/data/${i}/attributes/events/data/0/attributes/properties/poison`,
            );
          }
        }
      }
      return { status: 202 };
    }
    case '/api/events':
      if ((req.body as CreateEventBody).data.attributes.properties?.poison === true) {
        return klaviyoError(400, 'invalid', 'poisoned event', '/data/attributes/properties/poison');
      }
      return { status: 202 };
    case '/api/profile-import': {
      const attributes = (req.body as ProfileImportBody).data.attributes;
      if (String(attributes.email ?? '').includes('invalid')) {
        return klaviyoError(400, 'invalid', 'Invalid email address', '/data/attributes/email');
      }
      return {
        status: 201,
        headers: { 'content-type': 'application/vnd.api+json' },
        body: { data: { type: 'profile', id: '01PROFILE', attributes, links: { self: 'x' } } },
      };
    }
    case '/api/data-privacy-deletion-jobs':
      return { status: 202 };
    default:
      return klaviyoError(404, 'not_found', 'no such endpoint');
  }
};

export class KlaviyoTestDouble {
  readonly requests: RecordedRequest[] = [];
  private readonly scripted: Responder[] = [];
  private server: Server | null = null;
  private readonly hanging = new Set<ServerResponse>();
  responder: Responder = defaultResponder;

  /** Answer the next requests with these, in order, then fall back to `responder`. */
  next(...replies: Array<Reply | Responder>): this {
    for (const r of replies) this.scripted.push(typeof r === 'function' ? r : () => r);
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? JSON.parse(text) : undefined;
        const url = new URL(req.url ?? '/', 'http://double');
        const path = url.pathname;
        const op = OPERATIONS[path];
        const contractErrors =
          op && req.method === 'POST' ? klaviyoContract(op).validateRequestBody('post', path, body).errors : [];
        const rec: RecordedRequest = {
          method: req.method ?? '',
          path,
          query: url.searchParams,
          headers: req.headers,
          body,
          contractErrors,
          at: Date.now(),
        };
        this.requests.push(rec);
        const reply = (this.scripted.shift() ?? this.responder)(rec);
        if (reply.hang) {
          this.hanging.add(res);
          return;
        }
        const out = reply.body === undefined ? '' : JSON.stringify(reply.body);
        const send = () => {
          res.writeHead(reply.status, { ...(reply.headers ?? {}), 'content-length': Buffer.byteLength(out) });
          res.end(out);
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
