export {
  IntercomClient, INTERCOM_BASE_URLS, MAX_PER_PAGE,
  type IntercomClientOptions, type IntercomObject, type PageOptions, type SearchPage, type SearchQuery,
} from './intercom.client';
export { IntercomApiError } from './intercom-api.error';
export { RequestGate } from './request-gate';
