export { Directory } from './directory';
export { intercomSourceFor } from './intercom-api.source';
export { NO_INTERCOM_API, type IntercomSource } from './intercom-source';
