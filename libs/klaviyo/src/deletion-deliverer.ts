/** Data privacy deletions (POST /api/data-privacy-deletion-jobs, request_profile_deletion), one request per record. */
import type { KlaviyoDeletionRecord } from '@iks/domain';
import { localRejection, type DeliveryResult, type Priority } from './delivery-result';
import type { KlaviyoCaller } from './klaviyo-caller';
import { mapLimit } from './map-limit';
import { buildProfileDeletionBody, deletionIdentifier } from './request-builders';

export const DELETION_PATH = '/api/data-privacy-deletion-jobs';

export class KlaviyoDeletionDeliverer {
  constructor(
    private readonly caller: KlaviyoCaller,
    /** Requests in flight. Default 8. */
    private readonly concurrency = 8,
  ) {}

  /** One result per record, in input order. */
  async deliver(records: readonly KlaviyoDeletionRecord[], priority: Priority = 'live'): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(records.length);
    await mapLimit(
      records.map((r, i) => [r, i] as const),
      this.concurrency,
      async ([r, i]) => {
        const id = deletionIdentifier(r);
        results[i] = id
          ? await this.caller.deliverOne({
              group: 'data-privacy-deletion',
              priority,
              path: DELETION_PATH,
              body: buildProfileDeletionBody(id),
            })
          : localRejection('missing_profile_identifier', 'deletion has no email and no E.164 phone_number', null);
      },
    );
    return results;
  }
}
