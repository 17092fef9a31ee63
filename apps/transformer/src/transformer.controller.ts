import { Controller, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { StageErrorPassThrough, type StageBatch, type StageResult } from '@iks/stage';
import { TRANSFORMER_PATTERNS, TransformerRunner } from '@iks/transformer';

/** The transformer's handlers: each consumed topic's batches, mapped by the transformer lib. */
@Controller()
@UseFilters(StageErrorPassThrough)
export class TransformerController {
  constructor(private readonly transformer: TransformerRunner) {}

  @EventPattern(TRANSFORMER_PATTERNS.notifications)
  notifications(@Payload() batch: StageBatch): Promise<StageResult> {
    return this.transformer.handleNotifications(batch);
  }

  @EventPattern(TRANSFORMER_PATTERNS.retry)
  retries(@Payload() batch: StageBatch): Promise<StageResult> {
    return this.transformer.handleRetries(batch);
  }
}
