export {
  retry,
  backoffCeiling,
  jittered,
  defaultIsRetriable,
  type RetryOptions,
  type RetryInfo,
  type RetriableError,
} from './retry';
export { systemClock, ManualClock, abortReason, sleep, type Clock } from './clock';
export { isRetriableStatus } from './retriable-status';
