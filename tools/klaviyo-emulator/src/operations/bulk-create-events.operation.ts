import { MAX_EVENTS_PER_BULK_REQUEST } from '../klaviyo-emulator.constants';
import type { EventInput, ProfileIdentifiers, ProfileInput } from '../klaviyo-emulator.store';
import { invalidInput } from '../klaviyo-error.util';
import { toEventInput } from './event-input';
import type { Operation } from './operation';
import type { BulkCreateEventsBody } from './request-bodies';
import { checkIdentifierFormats, identifiersOf } from './profile-identifiers';

const BULK_EVENTS_POINTER = '/data/attributes/events-bulk-create/data';

/**
 * bulk_create_events (POST /api/event-bulk-create-jobs) → 202, no body. "If a unique_id is repeated
 * for the same profile and metric, the request will fail and no events will be processed"
 * (unique_id, BaseEventCreateQueryBulkEntryResourceObject); an invalid event fails the whole
 * request with 400 whose source.pointer names the event.
 */
export const bulkCreateEvents: Operation = ({ store, faults, runner, now }, { body, apiKey, integration }) => {
  const entries = (body as BulkCreateEventsBody).data.attributes['events-bulk-create'].data;
  let total = 0;
  for (const entry of entries) total += entry.attributes.events.data.length;
  if (total > MAX_EVENTS_PER_BULK_REQUEST) {
    throw invalidInput(`Accepts up to 1,000 events per request; got ${total}.`, BULK_EVENTS_POINTER);
  }
  const nowMs = now();
  const prepared: { profile: ProfileInput; ids: ProfileIdentifiers; events: EventInput[] }[] = new Array(
    entries.length,
  );
  const inRequest = new Map<string, string>();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i].attributes;
    const pdata = entry.profile.data;
    const ids = identifiersOf(pdata);
    const profileKey = store.profileKey(ids);
    if (!profileKey) {
      throw invalidInput(
        'A profile identifier (id, email, phone_number or external_id) is required.',
        `${BULK_EVENTS_POINTER}/${i}/attributes/profile/data/attributes`,
      );
    }
    checkIdentifierFormats(ids, `${BULK_EVENTS_POINTER}/${i}/attributes/profile/data/attributes`);
    const events: EventInput[] = new Array(entry.events.data.length);
    for (let j = 0; j < entry.events.data.length; j++) {
      const pointer = `${BULK_EVENTS_POINTER}/${i}/attributes/events/data/${j}`;
      const e = toEventInput(entry.events.data[j].attributes, entry.backfill, pointer, nowMs, ids, faults);
      if (!e.uniqueIdDefaulted) {
        const key = `${profileKey}\u0001${e.metric}\u0001${e.unique_id}`;
        const first = inRequest.get(key);
        if (first) {
          throw invalidInput(
            `unique_id "${e.unique_id}" is repeated for the same profile and metric (first at ${first}); the request failed and no events were processed.`,
            `${pointer}/attributes/unique_id`,
          );
        }
        inRequest.set(key, pointer);
      }
      events[j] = e;
    }
    prepared[i] = { profile: pdata, ids, events };
  }
  runner.run(() => {
    const at = new Date(now()).toISOString();
    for (const p of prepared) {
      const { profile } = store.upsertProfile(p.profile, at);
      for (const e of p.events) store.addEvent(profile, p.ids, e, 'bulk_create_events', apiKey, at, integration);
    }
  });
  return { status: 202, events: total };
};
