export {
  planLines,
  planPartitions,
  planReplay,
  planTotal,
  REPLAYABLE,
  ReplayPlanError,
  type PartitionPlan,
  type ReplayFrom,
  type ReplayPlan,
  type TopicWatermarks,
} from './replay-plan';
export { InProcessReplay, replayStage, type ReplayProgress, type ReplayStage } from './in-process-replay';
