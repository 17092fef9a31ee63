export {
  IntercomClient, INTERCOM_BASE_URLS, MAX_PER_PAGE,
  type IntercomClientOptions, type IntercomObject, type PageOptions, type SearchPage, type SearchQuery,
} from './intercom.client';
export { IntercomApiError } from './intercom-api.error';
export { RequestGate } from './request-gate';
export type {
  Unix, IntercomAdmin, IntercomTeam, IntercomTag, IntercomSubscriptionType, AddressableList, IntercomContact, ContactReference, PartAuthor,
  IntercomConversationPart, IntercomConversationRating, SlaStatus, IntercomConversation, IntercomConversationStatistics, TicketStateCategory,
  TicketCategory, IntercomTicketState, IntercomTicketType, IntercomTicketPart, IntercomTicket, IntercomCompany,
} from './intercom.types';
