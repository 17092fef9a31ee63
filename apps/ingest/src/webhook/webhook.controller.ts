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
import { CONFIG } from '../tokens';
import { IngestMetrics } from '../ingest-metrics';
import type { IntercomPing } from '@iks/domain';
import { KafkaUnavailableError, NotificationWriter, RecordTooLargeError } from '@iks/ingest';
import { verifySignature } from './signature';
import { readWebhook, type WebhookRecord } from './webhook-body';

/** POST /webhooks/intercom: Intercom's webhook deliveries (developers.intercom.com, Webhooks). */
@Controller('webhooks')
export class WebhookController {
  private readonly logger = new Logger(WebhookController.name);
  private readonly secrets: string[];

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly writer: NotificationWriter,
    private readonly metrics: IngestMetrics,
  ) {
    this.secrets = config.ingest.clientSecrets.map((s) => s.reveal());
  }

  @Post('intercom')
  @HttpCode(200)
  async receive(@Req() req: FastifyRequest, @Headers('x-hub-signature') signature: string | string[] | undefined) {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifySignature(raw, signature, this.secrets)) {
      this.metrics.countRejected(signature ? 'bad_signature' : 'missing_signature');
      throw new HttpException(
        {
          statusCode: 401,
          error: 'Unauthorized',
          message: signature ? 'X-Hub-Signature does not match the body' : 'X-Hub-Signature header is missing',
        },
        HttpStatus.UNAUTHORIZED,
      );
    }
    const webhook = readWebhook(raw, Date.now());
    if (!webhook.ok) {
      this.metrics.countRejected('invalid_envelope');
      throw new HttpException(
        { statusCode: 400, error: 'Bad Request', message: webhook.error },
        HttpStatus.BAD_REQUEST,
      );
    }
    if (webhook.kind === 'ping') return this.pong(webhook.ping);
    return this.store(webhook);
  }

  /**
   * Not async: what waits for Kafka's ack are two closures over the id and topic, not this
   * frame (an async frame keeps its locals, the record and its body among them, until it ends).
   */
  private store({ id, topic, key, record }: Extract<WebhookRecord, { kind: 'notification' }>) {
    return this.writer.write(record, key).then(
      () => {
        this.metrics.countAccepted(topic);
        return { status: 'accepted', id };
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
