import type { EmulatedAccount } from '../accounts/emulated-account';
import type { BulkImportJobs } from '../jobs/bulk-import-jobs';
import type { JobRunner } from '../jobs/job-runner';
import type { EventRejections } from '../klaviyo-emulator.faults';
import type { KlaviyoEmulatorStore } from '../klaviyo-emulator.store';
import type { MetricIntegration } from '../metric-integration';

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** Events the request carried (for the request log). */
  readonly events?: number;
}

/** What an operation works on: the emulated account of the key or token, and the emulator's clock and timers. */
export interface OperationContext {
  readonly account: EmulatedAccount;
  /** `account.store`. */
  readonly store: KlaviyoEmulatorStore;
  /** The emulator-wide event rules, then the account's own. */
  readonly faults: EventRejections;
  readonly jobs: BulkImportJobs;
  readonly runner: JobRunner;
  readonly now: () => number;
  /** The emulator's base URL (known once it listens), for `links.self`. */
  readonly baseUrl: () => string;
}

/** An authenticated, admitted, contract-valid request. */
export interface OperationRequest {
  /** The parsed body (POST), valid against the operation's contract (its shape: request-bodies.ts). */
  readonly body: unknown;
  readonly query: URLSearchParams;
  /** The sender as stored with events and deletions: the private key, or `oauth:<client_id>`. */
  readonly apiKey: string;
  /** The integration metrics created by this request belong to (API for a private key). */
  readonly integration: MetricIntegration;
  readonly jobId?: string;
  readonly resourceId?: string;
}

/** One Klaviyo operation: throws KlaviyoHttpError for what Klaviyo refuses. */
export type Operation = (ctx: OperationContext, request: OperationRequest) => Reply;
