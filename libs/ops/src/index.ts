export { HealthController, HEALTH_PROBE, type HealthCheckOutcome, type HealthProbe } from './health';
export { MetricsController, METRICS_REGISTRY, createMetricsRegistry, metricsRegistryProvider } from './metrics';
export { loggerParams, logLevels, REDACTED_PATHS, type LogFormat } from './logging';
export { bootStage, exitOnFatal, type StageAppOptions } from './boot-stage';
export { OpsModule, type OpsModuleOptions } from './ops.module';
export { createContext, ContextLogger, runnerClosingContext, type StoppableRunner } from './context';
