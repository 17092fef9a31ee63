export {
  ContinuousReconciler,
  type ContinuousDeps,
  type ContinuousOptions,
  type ReconcileTrigger,
} from './continuous-reconciler';
export { ReconcilerRunner } from './reconciler.runner';
export { updateProducedIndex, type ProducedTopics } from './produced-index.updater';
export { ProducedIndex } from './produced-index';
export {
  reconcile,
  formatReport,
  READ_CONVERSATION_NOTE,
  type ReconcileOptions,
  type ReconcileReport,
  type ReconcileRow,
} from './reconcile';
export { ReconcilerStageModule, createReconcilerRunner } from './reconciler-stage.module';
export type { ReconcilerDeps } from './reconciler.runner';
