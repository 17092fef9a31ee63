export { SinkRunner, KlaviyoRejectedError, sinkTopicsOf, consumesParked, type SinkRunOptions } from './sink.runner';
export { SinkStageModule, sinkContext, createSinkRunner, type SinkStageOptions } from './sink-stage.module';
export { SINK_RUN, SINK_ABORT } from './sink.tokens';
export { KlaviyoLanes, accountKeyOf, type ConnectionHealth } from './klaviyo-lanes';
export { ConnectionUnavailableError } from './routing';
