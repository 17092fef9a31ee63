export { retry, backoffCeiling, jittered, defaultIsRetriable, type RetryOptions, type RetryInfo, type RetriableError } from './retry';
export { systemClock, ManualClock, type Clock } from './clock';
