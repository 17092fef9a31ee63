export { SinkRunner, KlaviyoRejectedError, type SinkRunOptions } from './sink.runner';
