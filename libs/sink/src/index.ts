export { SinkRunner, KlaviyoRejectedError, SINK_PATTERNS, type SinkRunOptions } from './sink.runner';
