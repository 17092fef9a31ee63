export { NotificationWriter, KafkaUnavailableError, RecordTooLargeError, NotificationEncodeError } from './notification-writer';
export { OutageRecorder, type OutageWrite } from './outage-recorder';
