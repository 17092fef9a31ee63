import { Injectable } from '@nestjs/common';
import { NotificationWriter } from '@iks/ingest';
import type { HealthCheckOutcome, HealthProbe } from '@iks/ops';

/**
 * Ready = the broker answers now (a cached metadata request) and the schema registry answers,
 * with its credentials; each is its own check, so a 503 names the one that is down.
 * Live = the process answers (a broker outage is not cured by a restart).
 */
@Injectable()
export class IngestHealth implements HealthProbe {
  constructor(private readonly writer: NotificationWriter) {}

  async readiness(): Promise<Record<string, HealthCheckOutcome>> {
    const [producer, registry] = await Promise.all([this.writer.brokerReachable(), this.writer.registryReachable()]);
    return { producer: { up: producer }, registry: { up: registry } };
  }
}
