/**
 * Pieces shared by several Intercom 2.14 resources (contracts/intercom/api.intercom.io.2.14.yaml,
 * components/schemas/*). How every resource file reads: the contract marks no property
 * `required`; a property that is not optional here is one the vendor's examples always show and
 * the emulator always serves, an optional one the contract lists but Intercom (or the emulator)
 * may leave out. `| null` exactly where the contract says `nullable`. Type aliases, not interfaces:
 * an alias is assignable to a generic record (`IntercomObject`, `Record<string, unknown>`).
 */

/** The contract's `format: date-time` integers: unix seconds. */
export type Unix = number;

/** components/schemas/reference */
export type IntercomReference = {
  type: string;
  id: string | null;
};

/** components/schemas/contact_reference */
export type ContactReference = {
  type: 'contact';
  id: string;
  external_id: string | null;
};

/** components/schemas/conversation_part_author (also the conversation source's author) */
export type PartAuthor = {
  /** The contract says `string`; Intercom sends these. */
  type: 'user' | 'lead' | 'admin' | 'bot' | 'team';
  id: string;
  name: string | null;
  email?: string;
  from_ai_agent?: boolean;
  is_ai_answer?: boolean;
};

/** components/schemas/addressable_list: one entry of a contact's tags, notes or companies (an id and its URL). */
export type IntercomAddressable = {
  type?: string;
  id: string;
  url: string;
};

/**
 * components/schemas/contact_tags, contact_notes, contact_companies: a contact's list of ids.
 * `type: 'list'` is not in the schemas but in every example of the contract (and Intercom's answers).
 */
export type IntercomAddressableList = {
  type: 'list';
  data: IntercomAddressable[];
  url: string;
  total_count: number;
  has_more: boolean;
};
