/** Why one record was not delivered: Klaviyo's error (status set) or a local check (status null). */
export interface DeliveryError {
  /** Klaviyo's HTTP status; null when the record was refused before any request, or no response came. */
  readonly status: number | null;
  readonly code: string;
  readonly detail: string;
  /** JSON pointer into the request Klaviyo refused (e.g. /data/attributes/events-bulk-create/data/3/...). */
  readonly pointer: string | null;
  /** True when giving up was due to time (retries exhausted on 408/429/5xx/network), not the record. */
  readonly retriable: boolean;
}

export type DeliveryResult =
  /** `notes`: what was changed to get it delivered (e.g. identifier_conflict_phone_dropped), counted by the stage. */
  | {
      readonly status: 'delivered';
      readonly notes?: readonly string[];
      /** When the bulk request that carried it was answered: identical copies merged into one request share it. */
      readonly requestAt?: number;
    }
  | { readonly status: 'rejected'; readonly error: DeliveryError }
  /**
   * Not sent: the account's circuit is open (account-circuit.ts). Not the record's fault and not
   * final: the sink parks the record and offers it again once the account answers.
   */
  | { readonly status: 'unavailable'; readonly reason: string };

export type Priority = 'live' | 'backfill';

export const DELIVERED: DeliveryResult = Object.freeze({ status: 'delivered' });

export function rejected(error: DeliveryError): DeliveryResult {
  return { status: 'rejected', error };
}

/** A refusal decided locally, before Klaviyo saw the record. */
export function localRejection(code: string, detail: string, pointer: string | null = null): DeliveryResult {
  return rejected({ status: null, code, detail, pointer, retriable: false });
}

/** The account cannot take requests now (its circuit is open). */
export function unavailable(reason: string): DeliveryResult {
  return { status: 'unavailable', reason };
}
