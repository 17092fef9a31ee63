import {
  Controller,
  Head,
  Headers,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Logger,
  Post,
  Req,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Config } from '@iks/config';
import { CONNECTIONS, connectionKey, type ConnectionDirectory } from '@iks/connections';
import {
  boundedKey,
  contactIdsIn,
  DEFAULT_CONNECTION_ID,
  entityKey,
  isPing,
  validateEnvelope,
  type IntercomEnvelope,
  type IntercomPing,
  type RawNotification,
} from '@iks/domain';
import { KafkaUnavailableError, NotificationWriter, RecordTooLargeError } from '@iks/ingest';
import { topicName } from '@iks/kafka';
import { CONFIG } from '../tokens';
import { IngestMetrics } from '../ingest-metrics';
import { readBody } from './webhook-body';
import { WebhookRouter, type RefusedRoute } from './webhook-router';

/** Distinct workspaces whose first unclaimed webhook is logged (then only counted). */
const UNCLAIMED_LOGGED_MAX = 100;

/**
 * POST /webhooks/intercom: Intercom's webhook deliveries (developers.intercom.com, Webhooks),
 * routed by workspace (docs/CONNECTIONS.md): the body is parsed once, its `app_id` picks the
 * connection, whose client secret must have signed it.
 */
@Controller('webhooks')
export class WebhookController {
  private readonly logger = new Logger(WebhookController.name);
  private readonly router: WebhookRouter;
  private readonly unclaimedTopic: string;
  private readonly unclaimedLogged = new Set<string>();

  constructor(
    @Inject(CONFIG) config: Config,
    @Inject(CONNECTIONS) connections: ConnectionDirectory,
    private readonly writer: NotificationWriter,
    private readonly metrics: IngestMetrics,
  ) {
    this.router = new WebhookRouter(connections, config.ingest.clientSecrets);
    this.unclaimedTopic = topicName('notificationsUnclaimed', config.kafka.topicPrefix);
  }

  @Post('intercom')
  @HttpCode(200)
  async receive(@Req() req: FastifyRequest, @Headers('x-hub-signature') signature: string | string[] | undefined) {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const early = this.router.refusedHeader(signature);
    if (early) throw this.unauthorized(early);
    const text = raw.toString('utf8');
    const read = readBody(raw, text);
    const route = this.router.route(raw, signature, read.ok ? read.envelope.app_id : appIdOf(read.body));
    if (route.kind === 'refused') throw this.unauthorized(route);
    let env: IntercomEnvelope;
    // the people the body names, found by the scan's pass or in the tree the slow path built
    let subjects: readonly string[];
    if (read.ok) {
      env = read.envelope;
      subjects = read.subjects;
    } else {
      if (read.notJson !== null) throw this.badRequest(read.notJson);
      // the ping is checked before the envelope's rules: Intercom sends it with id null (issue #19)
      if (isPing(read.body)) return this.pong(read.body);
      const parsed = validateEnvelope(read.body);
      if (!parsed.ok) throw this.badRequest(parsed.error);
      env = parsed.envelope;
      subjects = contactIdsIn(read.body);
    }
    if (route.kind === 'unclaimed') return this.keepUnclaimed(env, text);
    const connectionId = route.connection.id;
    return this.store(
      env.id,
      env.topic,
      recordOf(env, text, connectionId),
      connectionKey(connectionId, entityKey(env)),
      subjects,
      raw,
    );
  }

  /**
   * Not async: what waits for Kafka's ack are two closures over the id and topic, not the
   * request's frame (an async frame keeps its locals, the parsed body among them, until it ends).
   */
  private store(
    id: string,
    topic: string,
    record: RawNotification,
    key: string,
    subjects: readonly string[],
    raw: Buffer,
  ) {
    return this.writer.write(record, key, undefined, subjects, raw).then(
      () => {
        this.metrics.countAccepted(topic);
        return { status: 'accepted' as const, id };
      },
      (e: unknown) => {
        throw this.notStored({ id, topic }, e);
      },
    );
  }

  /**
   * Intercom checks the endpoint URL with a HEAD request when it is added in the Developer Hub
   * (developers.intercom.com, "Set up Webhooks"): 200, no body, nothing else done.
   */
  @Head('intercom')
  @HttpCode(200)
  probe(): void {}

  private unauthorized(route: RefusedRoute): HttpException {
    this.metrics.countRejected(route.reason);
    return new HttpException(
      {
        statusCode: 401,
        error: 'Unauthorized',
        message:
          route.reason === 'bad_signature'
            ? 'X-Hub-Signature does not match the body'
            : 'X-Hub-Signature header is missing',
      },
      HttpStatus.UNAUTHORIZED,
    );
  }

  private badRequest(message: string): HttpException {
    this.metrics.countRejected('invalid_envelope');
    return new HttpException({ statusCode: 400, error: 'Bad Request', message }, HttpStatus.BAD_REQUEST);
  }

  /**
   * Signed by an Intercom app this deployment knows, of a workspace no connection claims: 200
   * (Intercom must not pause the subscription), counted, kept in the unclaimed topic keyed by
   * app_id until `cli connections claim <id>` copies it into the raw topic.
   */
  private async keepUnclaimed(env: IntercomEnvelope, text: string): Promise<{ status: 'unclaimed'; id: string }> {
    try {
      await this.writer.writeUnclaimed(recordOf(env, text, DEFAULT_CONNECTION_ID), boundedKey(env.app_id));
    } catch (e) {
      throw this.notStored(env, e);
    }
    this.metrics.countUnclaimed();
    if (this.unclaimedLogged.size < UNCLAIMED_LOGGED_MAX && !this.unclaimedLogged.has(env.app_id)) {
      this.unclaimedLogged.add(env.app_id);
      this.logger.warn(
        `webhook of workspace app_id ${JSON.stringify(env.app_id.slice(0, 64))}, which no connection claims: answered 200 and kept in ` +
          `${this.unclaimedTopic} (cli connections claim <connection id> copies it once its connection exists); further ones are counted in iks_ingest_unclaimed_total`,
      );
    }
    return { status: 'unclaimed', id: env.id };
  }

  /** A signed ping (Intercom: subscription saved, or its periodic check): 200, counted, one log line, nothing stored. */
  private pong(ping: IntercomPing): { status: 'pong' } {
    this.metrics.countPing();
    const appId =
      typeof ping.app_id === 'string' ? ping.app_id.slice(0, 64) : ping.app_id === undefined ? null : '(not a string)';
    this.logger.log(
      `Intercom ping from app_id ${JSON.stringify(appId)} answered 200: the webhook subscription reaches ingest (nothing stored)`,
    );
    return { status: 'pong' };
  }

  /** 413: no retry can store it; 503: Kafka is unavailable, Intercom retries; 500: anything else, counted apart. */
  private notStored(env: { id: string; topic: string }, e: unknown): HttpException {
    // id and topic come from the sender: JSON-encoded (quotes, newlines, control characters escaped) and cut short
    const what = `notification ${JSON.stringify(env.id.slice(0, 200))} (topic ${JSON.stringify(env.topic.slice(0, 200))})`;
    const message = (e as Error)?.message ?? String(e);
    if (e instanceof RecordTooLargeError) {
      this.metrics.countRejected('too_large');
      this.logger.warn(`${what} not written, answering 413: ${message}`);
      return new HttpException(
        { statusCode: 413, error: 'Payload Too Large', message: 'the notification is larger than the topic accepts' },
        HttpStatus.PAYLOAD_TOO_LARGE,
      );
    }
    if (e instanceof KafkaUnavailableError) {
      this.metrics.countRejected('kafka_unavailable');
      this.logger.warn(`${what} not written, answering 503: ${message}`);
      return new HttpException(
        { statusCode: 503, error: 'Service Unavailable', message: 'could not store the notification; retry later' },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    this.metrics.countRejected('internal_error');
    this.logger.error(`${what} not written, answering 500: ${message}`);
    return new HttpException(
      { statusCode: 500, error: 'Internal Server Error', message: 'could not store the notification' },
      HttpStatus.INTERNAL_SERVER_ERROR,
    );
  }
}

/** The body's `app_id` when it is an object with a non-empty string there. */
function appIdOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const appId = (body as { app_id?: unknown }).app_id;
  return typeof appId === 'string' && appId !== '' ? appId : undefined;
}

/** The raw topic's record of a webhook; `connection_id` only for a connection other than the default. */
function recordOf(env: IntercomEnvelope, text: string, connectionId: string): RawNotification {
  const record: RawNotification = {
    notification_id: env.id,
    topic: env.topic,
    app_id: env.app_id,
    created_at: Math.trunc(env.created_at),
    delivery_attempts: Number.isInteger(env.delivery_attempts) ? env.delivery_attempts! : 1,
    first_sent_at: typeof env.first_sent_at === 'number' ? Math.trunc(env.first_sent_at) : null,
    received_at: Date.now(),
    source: 'webhook',
    body: text,
  };
  return connectionId === DEFAULT_CONNECTION_ID ? record : { ...record, connection_id: connectionId };
}
