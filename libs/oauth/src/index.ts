export { createPkce, createState, pkceChallenge, type Pkce } from './pkce';
export { OAuthTokenError } from './oauth.errors';
export {
  KLAVIYO_OAUTH,
  KLAVIYO_SINK_SCOPES,
  KlaviyoOAuthClient,
  type KlaviyoOAuthClientOptions,
  type KlaviyoOAuthEndpoints,
  type KlaviyoTokens,
} from './klaviyo-oauth.client';
export { KlaviyoTokenSource, NeedsReauthorizationError, type KlaviyoTokenSourceOptions } from './klaviyo-token-source';
export { IntercomOAuthClient, type IntercomOAuthClientOptions, type IntercomWorkspace } from './intercom-oauth.client';
