export { Directory, type DirectoryOptions, type DirectoryStats, type DirectoryView } from './directory';
export {
  directoryKey,
  MemoryContactStore,
  snapshotKey,
  type ContactStore,
  type ContactValueSealer,
} from './contact-store';
export { LmdbContactStore } from './lmdb-contact-store';
export { followContacts, type ContactsFollower } from './follow-contacts';
export { intercomSourceFor, intercomSourceForConnection } from './intercom-api.source';
export { NO_INTERCOM_API, type IntercomSource } from './intercom-source';
