import { MAX_EVENT_PROPERTIES } from '../klaviyo-emulator.constants';
import type { EventRejections } from '../klaviyo-emulator.faults';
import type { EventInput, ProfileIdentifiers } from '../klaviyo-emulator.store';
import { invalidInput } from '../klaviyo-error.util';
import type { EventAttributesInput } from './request-bodies';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const MIN_EVENT_TIME = Date.UTC(1990, 0, 1);

/**
 * One event's attributes (create_event, or one event of bulk_create_events) checked as Klaviyo
 * checks them; `pointer` names the event in the request for the 400.
 */
export function toEventInput(
  attrs: EventAttributesInput,
  entryBackfill: boolean | null | undefined,
  pointer: string,
  nowMs: number,
  ids: ProfileIdentifiers,
  faults: EventRejections,
): EventInput {
  const metric: string = attrs.metric.data.attributes.name;
  // MetricCreateQueryResourceObject.name: "Name of the event. Must be less than 128 characters."
  if (metric.length === 0 || metric.length >= 128) {
    throw invalidInput(
      'Metric name must be non-empty and less than 128 characters.',
      `${pointer}/attributes/metric/data/attributes/name`,
    );
  }
  const properties = attrs.properties;
  let n = 0;
  for (const _ in properties)
    if (++n > MAX_EVENT_PROPERTIES)
      throw invalidInput(
        'Properties of this event must not exceed 400 properties.',
        `${pointer}/attributes/properties`,
      );
  // "The time is truncated to the second. The time must be after the year 1990 and can only be up to 1 year in the future."
  let t: number;
  if (attrs.time == null) t = nowMs;
  else {
    t = Date.parse(attrs.time);
    if (!(t > MIN_EVENT_TIME) || t > nowMs + YEAR_MS) {
      throw invalidInput(
        'The time must be after the year 1990 and can only be up to 1 year in the future.',
        `${pointer}/attributes/time`,
      );
    }
  }
  const time = new Date(t - (((t % 1000) + 1000) % 1000)).toISOString();
  const uniqueIdDefaulted = attrs.unique_id == null;
  const e: EventInput = {
    metric,
    properties,
    time,
    value: attrs.value ?? null,
    value_currency: attrs.value_currency ?? null,
    // "If this field is not present, this field will use the time to the second."
    unique_id: uniqueIdDefaulted ? time : attrs.unique_id,
    uniqueIdDefaulted,
    backfill: attrs.backfill ?? entryBackfill ?? false,
  };
  if (faults.hasEventRules) {
    const detail = faults.rejects({ metric, unique_id: attrs.unique_id ?? null, profile: ids, properties });
    if (detail) throw invalidInput(detail, pointer);
  }
  return e;
}
