/**
 * The request bodies the operations read, as the Klaviyo contracts define them (JSON:API
 * `{ data: { type, attributes } }`). Only the fields the emulator reads; the contract
 * validation (http/contract-validation.ts) has checked the body before an operation sees it.
 */
import type { ProfileInput } from '../klaviyo-emulator.store';

/** EventCreateQueryV2ResourceObject.attributes, and one event of a bulk entry. */
export interface EventAttributesInput {
  readonly metric: { readonly data: { readonly attributes: { readonly name: string } } };
  readonly properties: Record<string, unknown>;
  readonly time?: string | null;
  readonly value?: number | null;
  readonly value_currency?: string | null;
  readonly unique_id?: string | null;
  readonly backfill?: boolean | null;
}

/** POST /api/events */
export interface CreateEventBody {
  readonly data: { readonly attributes: EventAttributesInput & { readonly profile: { readonly data: ProfileInput } } };
}

/** POST /api/event-bulk-create-jobs */
export interface BulkCreateEventsBody {
  readonly data: {
    readonly attributes: {
      readonly 'events-bulk-create': {
        readonly data: ReadonlyArray<{
          readonly attributes: {
            readonly profile: { readonly data: ProfileInput };
            readonly events: { readonly data: ReadonlyArray<{ readonly attributes: EventAttributesInput }> };
            readonly backfill?: boolean | null;
          };
        }>;
      };
    };
  };
}

/** POST /api/profile-import */
export interface CreateOrUpdateProfileBody {
  readonly data: ProfileInput;
}

/** POST /api/profile-bulk-import-jobs */
export interface BulkImportProfilesBody {
  readonly data: { readonly attributes: { readonly profiles: { readonly data: readonly ProfileInput[] } } };
}

/** POST /api/data-privacy-deletion-jobs */
export interface RequestProfileDeletionBody {
  readonly data: { readonly attributes: { readonly profile: { readonly data: ProfileInput } } };
}
