import type { BulkImportJobs } from '../jobs/bulk-import-jobs';
import type { JobRunner } from '../jobs/job-runner';
import type { KlaviyoEmulatorFaults } from '../klaviyo-emulator.faults';
import type { KlaviyoEmulatorStore } from '../klaviyo-emulator.store';

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** Events the request carried (for the request log). */
  readonly events?: number;
}

/** What an operation works on: the emulated account and the emulator's clock and timers. */
export interface OperationContext {
  readonly store: KlaviyoEmulatorStore;
  readonly faults: KlaviyoEmulatorFaults;
  readonly jobs: BulkImportJobs;
  readonly runner: JobRunner;
  readonly now: () => number;
  /** The emulator's base URL (known once it listens), for `links.self`. */
  readonly baseUrl: () => string;
}

/** An authenticated, admitted, contract-valid request. */
export interface OperationRequest {
  /** The parsed body (POST), valid against the operation's contract. */
  readonly body: any;
  readonly query: URLSearchParams;
  readonly apiKey: string;
  readonly jobId?: string;
}

/** One Klaviyo operation: throws KlaviyoHttpError for what Klaviyo refuses. */
export type Operation = (ctx: OperationContext, request: OperationRequest) => Reply;
