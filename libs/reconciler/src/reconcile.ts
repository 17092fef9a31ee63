import { connectionKey } from '@iks/connections';
import type { IntercomObject, SearchQuery } from '@iks/intercom';
import { METRICS, toE164, type MetricKey } from '@iks/mapping';
import {
  deriveNotifications,
  pageWithParts,
  type BackfillKind,
  type BackfillRecord,
  type BackfillSink,
  type DerivedNotification,
  type ObjectSource,
} from '@iks/backfill';
import type { ProducedIndex } from './produced-index';

/** One row of the report: a metric, or `Profiles` for contacts. */
export interface ReconcileRow {
  readonly name: string;
  expected: number;
  present: number;
  /** Written by an earlier --heal, not yet seen on the produced topics. */
  healedPending: number;
  missing: number;
  /** Written now (--heal). */
  healed: number;
}

export interface ReconcileOptions {
  /** [since, until) unix seconds: what happened in this window is compared. */
  readonly since: number;
  readonly until: number;
  readonly kinds: readonly BackfillKind[];
  readonly appId: string;
  /**
   * The connection whose workspace `client` reads (default: the default connection): a profile
   * is looked up under its directory key and what is healed is written with its connection id
   * and key (wrap the sink with connectionSink).
   */
  readonly connectionId?: string;
  readonly heal: boolean;
  readonly perPage?: number;
  readonly onProgress?: (p: { kind: BackfillKind; objects: number; totalCount: number | null }) => void;
  readonly signal?: AbortSignal;
}

export interface ReconcileReport {
  readonly rows: ReconcileRow[];
  readonly objects: number;
  /** Objects whose older parts Intercom did not answer (500 most recent): their older events are not compared. */
  readonly truncated: number;
  /** Contacts with neither email nor E.164 phone: the pipeline makes no profile of them, so none is expected. */
  readonly unidentifiableContacts: number;
  readonly missing: readonly BackfillRecord[];
}

export const READ_CONVERSATION_NOTE =
  'Read Conversation: not derived from REST (its unique_id is the webhook notification id), not compared';

/**
 * Compares what Intercom holds for a window with what the pipeline produced (the index), and with
 * `heal` writes each missing notification to the raw topic (source reconcile) so the normal path
 * maps and delivers it. An object is searched by `updated_at >= since` (anything that happened in
 * the window moved updated_at at or after it) and its derived notifications are kept when they
 * happened in [since, until).
 */
export async function reconcile(
  client: ObjectSource,
  index: ProducedIndex,
  sink: BackfillSink,
  opts: ReconcileOptions,
): Promise<ReconcileReport> {
  const rows = new Map<string, ReconcileRow>();
  const row = (name: string) => {
    let r = rows.get(name);
    if (!r) rows.set(name, (r = { name, expected: 0, present: 0, healedPending: 0, missing: 0, healed: 0 }));
    return r;
  };
  for (const kind of opts.kinds) {
    if (kind === 'conversations')
      for (const k of ['conversationCreated', 'repliedToConversation', 'conversationRated'] as MetricKey[])
        row(METRICS[k]);
    if (kind === 'tickets')
      for (const k of [
        'ticketCreated',
        'ticketSubmitted',
        'repliedToTicket',
        'ticketMarkedAsWaiting',
        'ticketResolved',
      ] as MetricKey[])
        row(METRICS[k]);
    if (kind === 'contacts') row('Profiles');
  }
  const missing: BackfillRecord[] = [];
  let objects = 0;
  let truncated = 0;
  let unidentifiable = 0;
  const query: SearchQuery = { field: 'updated_at', operator: '>', value: opts.since - 1 };

  for (const kind of opts.kinds) {
    let cursor: string | null = null;
    let kindObjects = 0;
    for (;;) {
      const page = await client.search(kind, query, {
        perPage: opts.perPage ?? 150,
        startingAfter: cursor,
        signal: opts.signal,
      });
      const full = await pageWithParts(client, kind, page.items, opts.signal);
      const toWrite: Array<{ record: BackfillRecord; key: string; r: ReconcileRow }> = [];
      for (const item of full) {
        const d = deriveNotifications(kind, item, {
          appId: opts.appId,
          source: 'reconcile',
          window: { since: opts.since, until: opts.until },
        });
        if (d.truncated) truncated++;
        for (const n of d.notifications) {
          const judged = judge(kind, item, n, index, opts.connectionId);
          if (judged === 'unidentifiable') {
            unidentifiable++;
            continue;
          }
          const r = row(judged.row);
          r.expected++;
          if (judged.present) r.present++;
          else if (index.wasHealed(judged.key)) r.healedPending++;
          else {
            r.missing++;
            missing.push({ key: n.key, notification: n.notification });
            if (opts.heal) toWrite.push({ record: { key: n.key, notification: n.notification }, key: judged.key, r });
          }
        }
      }
      if (toWrite.length > 0) {
        await sink.write(toWrite.map((w) => w.record));
        for (const w of toWrite) {
          index.markHealed(w.key);
          w.r.healed++;
        }
        index.save();
      }
      objects += page.items.length;
      kindObjects += page.items.length;
      opts.onProgress?.({ kind, objects: kindObjects, totalCount: page.totalCount ?? null });
      if (!page.next) break;
      cursor = page.next;
    }
  }
  return { rows: [...rows.values()], objects, truncated, unidentifiableContacts: unidentifiable, missing };
}

function judge(
  kind: BackfillKind,
  item: IntercomObject,
  n: DerivedNotification,
  index: ProducedIndex,
  connectionId: string | undefined,
): 'unidentifiable' | { row: string; key: string; present: boolean } {
  if (n.expected)
    return { row: METRICS[n.expected.metric], key: n.expected.uniqueId, present: index.hasEvent(n.expected.uniqueId) };
  // a contact: its profile upsert is present when a profile at least as new was produced
  const email = typeof item.email === 'string' && item.email.trim() !== '';
  const phone = typeof item.phone === 'string' && toE164(item.phone) !== undefined;
  if (kind !== 'contacts' || (!email && !phone)) return 'unidentifiable';
  const updatedAt = typeof item.updated_at === 'number' ? item.updated_at : 0;
  // the index keeps a connection's profiles under `<connection id>/<contact id>` (the default: the contact id)
  const produced = index.profileUpdatedAt(connectionKey(connectionId, String(item.id)));
  return {
    row: 'Profiles',
    key: connectionKey(connectionId, `contact:${item.id}:${updatedAt}`),
    present: produced !== undefined && produced >= updatedAt,
  };
}

/** The report as a table (plain text, fixed columns). */
export function formatReport(report: ReconcileReport, heal: boolean): string {
  const head = ['metric', 'expected', 'present', 'missing', heal ? 'healed now' : 'healed earlier, pending'];
  const lines = report.rows.map((r) => [
    r.name,
    String(r.expected),
    String(r.present),
    String(r.missing),
    String(heal ? r.healed : r.healedPending),
  ]);
  const total = report.rows.reduce(
    (a, r) => ({
      e: a.e + r.expected,
      p: a.p + r.present,
      m: a.m + r.missing,
      h: a.h + (heal ? r.healed : r.healedPending),
    }),
    { e: 0, p: 0, m: 0, h: 0 },
  );
  lines.push(['total', String(total.e), String(total.p), String(total.m), String(total.h)]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)];
  out.push(`${report.objects} objects compared. ${READ_CONVERSATION_NOTE}.`);
  if (report.truncated > 0)
    out.push(
      `${report.truncated} conversation(s)/ticket(s) have more than the 500 parts Intercom answers: their older parts are not compared.`,
    );
  if (report.unidentifiableContacts > 0)
    out.push(`${report.unidentifiableContacts} contact(s) without email or E.164 phone: no profile expected.`);
  return out.join('\n');
}
