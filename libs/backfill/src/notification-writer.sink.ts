import type { NotificationWriter } from '@iks/ingest';
import type { BackfillRecord } from './backfill.types';
import type { BackfillSink } from './backfill.runner';

/**
 * The webhook path's writer (idempotent producer, acks=all, one sendBatch for the writes of
 * a tick): a page's records go out together and the page counts as written when all are acked.
 */
export class NotificationWriterSink implements BackfillSink {
  constructor(
    private readonly writer: Pick<NotificationWriter, 'write'>,
    private readonly ackTimeoutMs = 60_000,
  ) {}

  async write(records: readonly BackfillRecord[]): Promise<void> {
    const results = await Promise.allSettled(
      records.map((r) => this.writer.write(r.notification, r.key, this.ackTimeoutMs)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
