export { SinkRunner, KlaviyoRejectedError, sinkTopicsOf, type SinkRunOptions } from './sink.runner';
export { SinkStageModule, sinkContext, createSinkRunner, type SinkStageOptions } from './sink-stage.module';
export { SINK_RUN, RATE_BUDGET, KLAVIYO_DELIVERY, SINK_ABORT } from './sink.tokens';
