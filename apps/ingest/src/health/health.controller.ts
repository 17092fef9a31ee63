import { Controller, Get, Header, HttpException, HttpStatus } from '@nestjs/common';
import { IngestMetrics } from '../ingest-metrics';
import { NotificationWriter } from '@iks/kafka';

@Controller()
export class HealthController {
  constructor(private readonly writer: NotificationWriter, private readonly metrics: IngestMetrics) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  /** Ready = the broker answers now (a cached metadata request) and the schema registry answers, with its credentials. */
  @Get('health/ready')
  async ready() {
    const [producer, registry] = await Promise.all([this.writer.brokerReachable(), this.writer.registryReachable()]);
    const body = { status: producer && registry ? 'ok' : 'unavailable', producer, registry };
    if (!producer || !registry) throw new HttpException(body, HttpStatus.SERVICE_UNAVAILABLE);
    return body;
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  metricsText() {
    return this.metrics.render();
  }
}
