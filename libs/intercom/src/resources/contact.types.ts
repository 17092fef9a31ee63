import type { IntercomAddressableList, Unix } from './common.types';
import type { IntercomTag } from './workspace.types';

/** components/schemas/contact (GET /contacts/{id}; POST /contacts/search answers a `list` of these) */
export type IntercomContact = {
  type: 'contact';
  id: string;
  workspace_id: string;
  external_id: string | null;
  /** The contract says `string`; Intercom sends these. */
  role: 'user' | 'lead';
  /** '' when the contact has no email (the 2.14 schema does not allow null). */
  email: string;
  email_domain: string;
  phone: string | null;
  name: string | null;
  owner_id: number | null;
  has_hard_bounced: boolean;
  marked_email_as_spam: boolean;
  unsubscribed_from_emails: boolean;
  created_at: Unix;
  updated_at: Unix;
  signed_up_at: Unix | null;
  last_seen_at: Unix | null;
  last_replied_at: Unix | null;
  last_contacted_at: Unix | null;
  last_email_opened_at: Unix | null;
  last_email_clicked_at: Unix | null;
  language_override: string | null;
  browser: string | null;
  browser_version: string | null;
  browser_language: string | null;
  os: string | null;
  android_app_name?: string | null;
  android_app_version?: string | null;
  android_device?: string | null;
  android_os_version?: string | null;
  android_sdk_version?: string | null;
  android_last_seen_at?: Unix | null;
  ios_app_name?: string | null;
  ios_app_version?: string | null;
  ios_device?: string | null;
  ios_os_version?: string | null;
  ios_sdk_version?: string | null;
  ios_last_seen_at?: Unix | null;
  /** The contract says `object` with no value type. */
  custom_attributes: Record<string, unknown>;
  avatar: { type: 'avatar'; image_url: string | null } | null;
  /** components/schemas/contact_tags (nullable) */
  tags: IntercomAddressableList | null;
  notes: IntercomAddressableList;
  companies: IntercomAddressableList;
  /** components/schemas/contact_location */
  location: { type: 'location' | null; country: string | null; region: string | null; city: string | null };
  /** components/schemas/contact_social_profiles (`type: 'list'` as in the contract's examples) */
  social_profiles: { type: 'list'; data: { type: string; name: string; url: string }[] };
};

/** components/schemas/subscription_type (GET /contacts/{id}/subscriptions answers a `list` of these) */
export type IntercomSubscriptionType = {
  type: 'subscription';
  id: string;
  state: 'live' | 'draft' | 'archived';
  consent_type: 'opt_in' | 'opt_out';
  /** components/schemas/translation */
  default_translation: { name: string; description?: string; locale: string };
  translations: { name: string; description?: string; locale: string }[];
  content_types: ('email' | 'sms_message')[];
};

/**
 * data.item of contact.user.tag.created / contact.lead.tag.created / *.tag.deleted. Intercom
 * documents it as a `contact_tag` object carrying the tag and the contact; the 2.14 OpenAPI file
 * has no component for it (its parts validate as `contact` and `tag`).
 */
export type IntercomContactTag = {
  type: 'contact_tag';
  created_at: Unix;
  contact: IntercomContact;
  tag: IntercomTag;
};
