import { Logger } from '@nestjs/common';
import { IntercomApiError, type SearchQuery } from '@iks/intercom';
import type { BackfillKind, BackfillRecord } from './backfill.types';
import { pageWithParts, type ObjectSource } from './full-object';
import { deriveNotifications } from './rest-derivation';
import type { BackfillCheckpoint, CheckpointStore, KindProgress } from './backfill-checkpoint';

/** Where a page's records go; resolves only when all of them are acknowledged (acks=all). */
export interface BackfillSink {
  write(records: readonly BackfillRecord[]): Promise<void>;
}

export interface BackfillRunOptions {
  /** unix seconds: objects with updated_at > since */
  readonly since: number;
  /** unix seconds: updated_at < until; null = now at the first run (kept in the checkpoint) */
  readonly until: number | null;
  readonly kinds: readonly BackfillKind[];
  /** The workspace id code, the `app_id` of webhook notifications. */
  readonly appId: string;
  /** Search page size; Intercom allows at most 150. */
  readonly perPage?: number;
  /** Ignore (and replace) an existing checkpoint. */
  readonly restart?: boolean;
  /** When aborted, the page in flight is finished and checkpointed, then the run stops. */
  readonly stop?: AbortSignal;
  readonly onPage?: (event: PageEvent) => void;
}

export interface PageEvent {
  readonly kind: BackfillKind;
  readonly page: number;
  /** Objects read in this run for this kind, including earlier runs' (from the checkpoint). */
  readonly kindObjects: number;
  readonly totalCount: number | null;
  readonly pageObjects: number;
  readonly pageRecords: number;
  /** Objects read by this process (not counting resumed progress), for the rate. */
  readonly runObjects: number;
}

export interface BackfillResult {
  readonly outcome: 'completed' | 'interrupted';
  /** Read / written by this process. */
  readonly objects: number;
  readonly records: number;
  readonly pages: number;
  readonly byKind: Readonly<Partial<Record<BackfillKind, KindProgress>>>;
  readonly resumed: boolean;
  readonly checkpointPath: string;
}

/**
 * Pages through Intercom's search endpoints by updated_at, GETs each conversation and ticket
 * with its parts, and writes each object to the raw notifications topic as the webhook
 * notification(s) it stands for (deriveNotifications); checkpoints after each
 * acknowledged page so a crash or an interrupt resumes there. Re-written records (the page
 * in flight at a crash) are identical, and the transformer's unique_ids make them harmless.
 */
export class BackfillRunner {
  private readonly logger = new Logger(BackfillRunner.name);

  constructor(
    private readonly client: ObjectSource,
    private readonly sink: BackfillSink,
    private readonly store: CheckpointStore,
  ) {}

  async run(opts: BackfillRunOptions): Promise<BackfillResult> {
    const perPage = opts.perPage ?? 150;
    if (opts.restart) this.store.clear();
    const existing = this.store.load();
    const cp: BackfillCheckpoint = existing ?? {
      version: 1,
      since: opts.since,
      until: opts.until ?? Math.floor(Date.now() / 1000),
      topic: this.store.identity.topic,
      baseUrl: this.store.identity.baseUrl,
      kinds: {},
      savedAt: '',
    };
    if (!existing) this.store.save(cp);
    let objects = 0;
    let records = 0;
    let pages = 0;

    for (const kind of opts.kinds) {
      const progress: KindProgress = (cp.kinds[kind] ??= {
        cursor: null,
        done: false,
        pages: 0,
        objects: 0,
        records: 0,
        totalCount: null,
      });
      const query: SearchQuery = {
        operator: 'AND',
        value: [
          { field: 'updated_at', operator: '>', value: cp.since },
          { field: 'updated_at', operator: '<', value: cp.until },
        ],
      };
      let cursorRetried = false;
      while (!progress.done) {
        if (opts.stop?.aborted) return this.result('interrupted', cp, objects, records, pages, !!existing);
        let page;
        try {
          page = await this.client.search(kind, query, { perPage, startingAfter: progress.cursor });
        } catch (e) {
          // A saved cursor the API no longer accepts (400): page this kind again from the start.
          // Re-written records are identical, so this costs time, not correctness.
          if (e instanceof IntercomApiError && e.status === 400 && progress.cursor && !cursorRetried) {
            this.logger.warn(
              `${kind}: the saved cursor was rejected (${e.code}); paging ${kind} again from the start of the window`,
            );
            cursorRetried = true;
            Object.assign(progress, { cursor: null, pages: 0, objects: 0, records: 0 });
            continue;
          }
          throw e;
        }
        // GET each conversation / ticket for its parts: the one derivation (rest-derivation.ts)
        // then gives replies, ratings and every state change, with the webhook path's unique_ids.
        const full = await pageWithParts(this.client, kind, page.items);
        const out = full
          .flatMap((item) => deriveNotifications(kind, item, { appId: opts.appId, source: 'backfill' }).notifications)
          .map(({ key, notification }) => ({ key, notification }));
        await this.sink.write(out);
        progress.pages++;
        progress.objects += page.items.length;
        progress.records += out.length;
        progress.totalCount = page.totalCount ?? progress.totalCount;
        progress.cursor = page.next ?? null;
        progress.done = !page.next;
        pages++;
        objects += page.items.length;
        records += out.length;
        this.store.save(cp);
        opts.onPage?.({
          kind,
          page: progress.pages,
          kindObjects: progress.objects,
          totalCount: progress.totalCount,
          pageObjects: page.items.length,
          pageRecords: out.length,
          runObjects: objects,
        });
      }
    }
    return this.result('completed', cp, objects, records, pages, !!existing);
  }

  private result(
    outcome: BackfillResult['outcome'],
    cp: BackfillCheckpoint,
    objects: number,
    records: number,
    pages: number,
    resumed: boolean,
  ): BackfillResult {
    return {
      outcome,
      objects,
      records,
      pages,
      byKind: structuredClone(cp.kinds),
      resumed,
      checkpointPath: this.store.path,
    };
  }
}
