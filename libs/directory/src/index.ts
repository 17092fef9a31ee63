export { Directory, type DirectoryOptions, type DirectoryStats } from './directory';
export { MemoryContactStore, type ContactStore } from './contact-store';
export { LmdbContactStore } from './lmdb-contact-store';
export { followContacts, type ContactsFollower } from './follow-contacts';
export { intercomSourceFor } from './intercom-api.source';
export { NO_INTERCOM_API, type IntercomSource } from './intercom-source';
