export {
  IntercomClient,
  INTERCOM_BASE_URLS,
  MAX_PER_PAGE,
  type IntercomClientOptions,
  type IntercomObject,
  type PageOptions,
  type SearchItems,
  type SearchPage,
  type SearchQuery,
} from './intercom.client';
export { IntercomApiError } from './intercom-api.error';
export {
  INTERCOM_CLIENT_FACTORY,
  intercomClientFactory,
  intercomClientFactoryProvider,
  NoIntercomAccessTokenError,
  type IntercomClientFactory,
  type IntercomClientSettings,
  type IntercomEndpoint,
} from './intercom-client.factory';
export { RequestGate } from './request-gate';
export type {
  ContactReference,
  IntercomAddressable,
  IntercomAddressableList,
  IntercomReference,
  PartAuthor,
  Unix,
} from './resources/common.types';
export type { IntercomContact, IntercomContactTag, IntercomSubscriptionType } from './resources/contact.types';
export type {
  IntercomConversation,
  IntercomConversationListItem,
  IntercomConversationPart,
  IntercomConversationRating,
  IntercomConversationSource,
  IntercomConversationStatistics,
  SlaStatus,
} from './resources/conversation.types';
export type {
  IntercomTicket,
  IntercomTicketAnyVersion,
  IntercomTicketPart,
  IntercomTicketState,
  IntercomTicketType,
  IntercomTicketV211,
  TicketCategory,
  TicketPartAuthor,
  TicketStateCategory,
} from './resources/ticket.types';
export type {
  IntercomAdmin,
  IntercomApp,
  IntercomCompany,
  IntercomMe,
  IntercomTag,
  IntercomTeam,
} from './resources/workspace.types';
export type { IntercomId, Loose } from './resources/loose.types';
