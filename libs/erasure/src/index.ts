export { ErasedSubjectError, ERASED_KEY_ID, SubjectKeys, subjectId, type Subject } from './subject-keys';
export { distinctSubjects, NotSharedSealError, openShared, sealShared, sharedSubjects } from './shared-seal';
export { ErasureModule } from './erasure.module';
