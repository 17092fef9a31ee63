import { Controller, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { StageErrorPassThrough, type StageBatch, type StageResult } from '@iks/stage';
import { SINK_PATTERNS, SinkRunner } from '@iks/sink';

/** The sink's handlers: each consumed topic's batches, delivered to Klaviyo by the sink lib. */
@Controller()
@UseFilters(StageErrorPassThrough)
export class SinkController {
  constructor(private readonly sink: SinkRunner) {}

  @EventPattern(SINK_PATTERNS.events)
  events(@Payload() batch: StageBatch): Promise<StageResult> {
    return this.sink.handleRecords(batch);
  }

  @EventPattern(SINK_PATTERNS.profiles)
  profiles(@Payload() batch: StageBatch): Promise<StageResult> {
    return this.sink.handleRecords(batch);
  }

  @EventPattern(SINK_PATTERNS.deletions)
  deletions(@Payload() batch: StageBatch): Promise<StageResult> {
    return this.sink.handleRecords(batch);
  }
}
