export { ErasedSubjectError, ERASED_KEY_ID, SubjectKeys, subjectId, type Subject } from './subject-keys';
export { ErasureModule } from './erasure.module';
