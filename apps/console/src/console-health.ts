import { Injectable } from '@nestjs/common';
import { ReadModelFeed } from '@iks/console';
import type { HealthCheckOutcome, HealthProbe } from '@iks/ops';

/**
 * Ready = the read model's consumer has joined its group and is fetching, and the read model
 * has caught up with the topics at least once since the start (until then its pages undercount);
 * `behind` says how many records it has not read yet. Live = the consumer has not crashed for good.
 */
@Injectable()
export class ConsoleHealth implements HealthProbe {
  constructor(private readonly feed: ReadModelFeed) {}

  readiness(): Record<string, HealthCheckOutcome> {
    const behind = this.feed.behind();
    const at = this.feed.caughtUpAt;
    return {
      feed: {
        up: this.feed.state === 'running',
        detail: { state: this.feed.state, ...(this.feed.lastError ? { error: this.feed.lastError } : {}) },
      },
      readModel: {
        up: at !== null,
        detail: {
          caughtUp: at !== null,
          behind: behind ?? 'unknown',
          ...(at ? { caughtUpAt: new Date(at).toISOString() } : {}),
        },
      },
    };
  }

  liveness(): Record<string, HealthCheckOutcome> {
    return { feed: { up: this.feed.state !== 'crashed', detail: { state: this.feed.state } } };
  }
}
