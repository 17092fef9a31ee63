export {
  NotificationWriter,
  KafkaUnavailableError,
  RecordTooLargeError,
  NotificationEncodeError,
  type NotificationWriterDeps,
  type NotificationWriterOptions,
} from './notification-writer';
export { NotificationWriterModule, createNotificationWriter } from './notification-writer.module';
export { OutageRecorder, type OutageWrite } from './outage-recorder';
export { ClaimRefusedError, claimGroupId, planClaim, type ClaimDeps, type ClaimPlan } from './claim-unclaimed';
