import { Inject, Injectable } from '@nestjs/common';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { DeliveryReadModel, ReadModelFeed } from '@iks/console';
import { METRICS_REGISTRY } from '@iks/ops';

/** The console's own series, next to the process's default ones (libs/ops): what the read model holds, and page times. */
@Injectable()
export class ConsoleMetrics {
  private readonly pageSeconds: Histogram<'page' | 'status_class'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, model: DeliveryReadModel, feed: ReadModelFeed) {
    const gauge = (name: string, help: string, value: () => number | null) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const v = value();
          if (v !== null) this.set(v);
        },
      });
    gauge(
      'iks_console_outcomes_read',
      'Outcomes (klaviyo.outcomes.v1) the read model has applied since the start.',
      () => model.outcomes,
    );
    gauge(
      'iks_console_dead_letters_read',
      'Dead letters the read model has read since the start.',
      () => model.deadLetterCount,
    );
    gauge(
      'iks_console_people_deleted',
      "Deleted people the read model knows (it keeps only their contact id and the deletion's state).",
      () => model.deleted.size,
    );
    gauge(
      'iks_console_read_model_behind',
      "Records of the console's topics not read yet (high watermarks at most a second old).",
      () => feed.behind(),
    );
    gauge(
      'iks_console_read_model_caught_up',
      '1 once the read model has caught up with its topics since the start.',
      () => (feed.caughtUpAt === null ? 0 : 1),
    );
    this.pageSeconds = new Histogram({
      name: 'iks_console_page_seconds',
      help: 'Time from a console request received to its answer sent, by route.',
      labelNames: ['page', 'status_class'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
  }

  observePage(page: string, status: number, seconds: number): void {
    this.pageSeconds.observe({ page, status_class: `${Math.floor(status / 100)}xx` }, seconds);
  }
}
