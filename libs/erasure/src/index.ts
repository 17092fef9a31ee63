export {
  ErasedSubjectError,
  ERASED_KEY_ID,
  SubjectKeyMissingError,
  SubjectKeys,
  SubjectKeysBehindError,
  subjectId,
  unlessErased,
  type Subject,
} from './subject-keys';
export {
  distinctSubjects,
  NotSharedSealError,
  openNotification,
  openShared,
  sealShared,
  sharedSubjects,
  unclaimedSubject,
} from './shared-seal';
export { ErasureModule } from './erasure.module';
export {
  joinPersonal,
  NoSubjectError,
  openOutcome,
  openPersonal,
  outcomePersonal,
  sealPersonal,
  splitPersonal,
  subjectOf,
  type OutcomePersonal,
  type PersonalSealer,
  type SealableRecord,
} from './personal-fields';
