import { Logger } from '@nestjs/common';
import type { PipelineOutage } from '@iks/domain';

/** Writes one closed outage to pipeline.outages.v1 (acks=all); rejects when Kafka did not take it. */
export type OutageWrite = (key: string, outage: PipelineOutage) => Promise<void>;

/**
 * Ingest's memory of answering 503: the first failed write opens an outage, the first
 * acknowledged write after it closes it, and the closed outage is written to
 * pipeline.outages.v1 for the reconciler (issue #12: "the outage window as soon as ingest sees
 * Kafka back"). A marker that cannot be written yet is kept and tried again after the next
 * acknowledged write. A process that dies mid-outage writes nothing: the scheduled windows
 * cover that (README "Gaps").
 */
export class OutageRecorder {
  private readonly logger = new Logger(OutageRecorder.name);
  private open: { since: number; failed: number } | null = null;
  private readonly closed: PipelineOutage[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly write: OutageWrite,
    private readonly reporter: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** A webhook was answered 503 (Kafka did not take it). */
  failed(): void {
    if (!this.open) {
      this.open = { since: this.now(), failed: 0 };
      this.logger.warn(
        'Kafka unavailable: webhooks are answered 503 from now on; the window is reported to the reconciler once Kafka is back',
      );
    }
    this.open.failed++;
  }

  /** A write was acknowledged: Kafka is back, if it was gone. */
  succeeded(): void {
    if (this.open) {
      const outage: PipelineOutage = {
        since: this.open.since,
        until: this.now(),
        failed_writes: this.open.failed,
        reporter: this.reporter,
      };
      this.open = null;
      this.closed.push(outage);
      this.logger.warn(
        `Kafka is back: ${outage.failed_writes} webhook(s) answered 503 from ${new Date(outage.since).toISOString()} to ${new Date(outage.until).toISOString()}; reporting the window to the reconciler`,
      );
    }
    if (this.closed.length > 0 && !this.flushing) this.flushing = this.flush().finally(() => (this.flushing = null));
  }

  /** Markers closed but not yet written (for stop and tests). */
  get pending(): readonly PipelineOutage[] {
    return this.closed;
  }

  /** Resolves when the writes in flight are done (written or kept for later). */
  async settled(): Promise<void> {
    await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.closed.length > 0) {
      const o = this.closed[0];
      try {
        await this.write(`${o.reporter}:${o.since}`, o);
        this.closed.shift();
      } catch (e) {
        this.logger.warn(
          `could not write the outage marker yet (kept, tried again after the next acknowledged write): ${(e as Error).message}`,
        );
        return;
      }
    }
  }
}
