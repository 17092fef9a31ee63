import { Controller, Headers, HttpCode, HttpException, HttpStatus, Inject, Logger, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Config } from '@iks/config';
import { CONFIG } from '../tokens';
import { IngestMetrics } from '../ingest-metrics';
import { entityKey, isPing, parseEnvelope } from '@iks/domain';
import { KafkaUnavailableError, NotificationWriter } from '@iks/kafka';
import { verifySignature } from './signature';

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
  async receive(@Req() req: FastifyRequest, @Headers('x-hub-signature') signature: string | undefined) {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifySignature(raw, signature, this.secrets)) {
      this.metrics.countRejected(signature ? 'bad_signature' : 'missing_signature');
      throw new HttpException(
        { statusCode: 401, error: 'Unauthorized', message: signature ? 'X-Hub-Signature does not match the body' : 'X-Hub-Signature header is missing' },
        HttpStatus.UNAUTHORIZED,
      );
    }
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      this.metrics.countRejected('invalid_envelope');
      throw new HttpException({ statusCode: 400, error: 'Bad Request', message: parsed.error }, HttpStatus.BAD_REQUEST);
    }
    const env = parsed.envelope;
    if (isPing(env)) {
      this.metrics.pings++;
      return { status: 'pong' };
    }
    try {
      await this.writer.write(
        {
          notification_id: env.id, topic: env.topic, app_id: env.app_id, created_at: Math.trunc(env.created_at),
          delivery_attempts: Number.isInteger(env.delivery_attempts) ? env.delivery_attempts! : 1,
          first_sent_at: typeof env.first_sent_at === 'number' ? Math.trunc(env.first_sent_at) : null,
          received_at: Date.now(), source: 'webhook', body: raw.toString('utf8'),
        },
        entityKey(env),
      );
    } catch (e) {
      this.metrics.countRejected('kafka_unavailable');
      this.logger.warn(`notification ${env.id} (${env.topic}) not written, answering 503: ${(e as Error).message}`);
      const status = e instanceof KafkaUnavailableError ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.INTERNAL_SERVER_ERROR;
      throw new HttpException({ statusCode: status, error: 'Service Unavailable', message: 'could not store the notification; retry later' }, status);
    }
    this.metrics.countAccepted(env.topic);
    return { status: 'accepted', id: env.id };
  }
}
