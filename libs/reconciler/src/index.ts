export { ContinuousReconciler, type ContinuousDeps, type ContinuousOptions, type ReconcileTrigger } from './continuous-reconciler';
export { ReconcilerRunner } from './reconciler.runner';
export { updateProducedIndex } from './produced-index.updater';
export { ReconcilerStageModule, createReconcilerRunner } from './reconciler-stage.module';
export type { ReconcilerDeps } from './reconciler.runner';
