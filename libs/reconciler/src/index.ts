export { ContinuousReconciler, type ContinuousDeps, type ContinuousOptions, type ReconcileTrigger } from './continuous-reconciler';
export { ReconcilerRunner } from './reconciler.runner';
export { updateProducedIndex } from './produced-index.updater';
