import { connectionOf, type ReconcileReportRecord } from '@iks/domain';
import type {
  CopyKind,
  DeliveryReadModel,
  GapsModel,
  KindTally,
  LetterView,
  OutcomeView,
  PartitionLag,
  RecordKindKey,
  SinkThrottling,
} from '@iks/console';
import type { Connection } from '@iks/connections';
import type { IntercomHalf, KlaviyoHalf } from './console-connections';
import type { ReplayStatus } from './console-replay';

/**
 * What each page shows, as plain data: the numbers are computed here, once, from the read
 * model (and the rows they count), and the templates (apps/console/views, eta, escaping by
 * default) only lay them out.
 */

export const iso = (ms: number | null) =>
  ms === null || !Number.isFinite(ms) ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z');

export interface MetricRow {
  readonly name: string;
  readonly intercom: boolean;
}

/** Points of an SVG polyline over `values` (a sparkline or one series of a chart). */
export function points(values: readonly number[], width: number, height: number, max = Math.max(1, ...values)): string {
  const step = values.length > 1 ? width / (values.length - 1) : width;
  return values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`)
    .join(' ');
}

export const COPY_LABEL: Readonly<Record<CopyKind, string>> = {
  new: 'new: Klaviyo stored it',
  repeat: 'repeat: Klaviyo had it already',
  same_request: 'same request: rode along with an identical copy',
};

export interface EventRowModel {
  readonly metric: string;
  readonly uniqueId: string;
  readonly kind: string;
  /** delivered events: new / repeat / same_request */
  readonly copy: CopyKind | null;
  readonly copyLabel: string;
  readonly eventTime: string;
  readonly receivedAt: string;
  readonly mappedAt: string;
  readonly outcomeAt: string;
  readonly reason: string;
  readonly at: string;
  readonly person: { readonly q: string; readonly label: string } | null;
  readonly properties: string;
}

function eventRow(v: OutcomeView): EventRowModel {
  const q = v.email ?? v.phone ?? v.contactId;
  return {
    metric: v.metric ?? v.recordKind ?? '—',
    uniqueId: v.uniqueId ?? '—',
    kind: v.kind,
    copy: v.copy,
    copyLabel: v.copy ? COPY_LABEL[v.copy] : '',
    eventTime: iso(v.eventTime),
    receivedAt: iso(v.receivedAt),
    mappedAt: iso(v.mappedAt),
    outcomeAt: iso(v.outcomeAt),
    reason: v.reason,
    at: v.at,
    person: q ? { q, label: q } : null,
    properties: pretty(v.properties),
  };
}

/** How many of `rows` are of each kind: the caption above a table says what its rows are. */
export interface RowCounts {
  readonly total: number;
  readonly new: number;
  readonly repeat: number;
  readonly sameRequest: number;
  readonly deadLettered: number;
  readonly skipped: number;
  readonly retried: number;
  readonly other: number;
}

export function rowCounts(rows: readonly OutcomeView[]): RowCounts {
  const c = {
    total: rows.length,
    new: 0,
    repeat: 0,
    sameRequest: 0,
    deadLettered: 0,
    skipped: 0,
    retried: 0,
    other: 0,
  };
  for (const v of rows) {
    if (v.copy === 'new') c.new++;
    else if (v.copy === 'repeat') c.repeat++;
    else if (v.copy === 'same_request') c.sameRequest++;
    else if (v.kind === 'dead_lettered') c.deadLettered++;
    else if (v.kind === 'skipped') c.skipped++;
    else if (v.kind === 'retried') c.retried++;
    else c.other++;
  }
  return c;
}

export function metricsPage(
  model: DeliveryReadModel,
  rows: readonly MetricRow[],
  selected: string | null,
  now: number,
  behind: number | null,
  connection: string | null = null,
) {
  const metrics = rows.map(({ name, intercom }) => {
    const m = model.metrics.get(name);
    return {
      name,
      key: name.toLowerCase(),
      intercom,
      lastHour: m ? model.deliveredSince(m, now, 60) : 0,
      lastDay: m ? model.deliveredSince(m, now, 24 * 60) : 0,
      lastWeek: m ? model.deliveredSince(m, now, 7 * 24 * 60) : 0,
      all: m?.delivered ?? 0,
      repeats: m?.repeats ?? 0,
      sameRequest: m?.sameRequest ?? 0,
      deadLettered: m?.deadLettered ?? 0,
      skipped: m?.skipped ?? 0,
      lastEventTime: m?.lastEventTime ?? '—',
      spark: points(m ? model.series(m.perMinute, now, 24, 60) : new Array<number>(24).fill(0), 120, 24),
    };
  });
  let detail: { name: string; rows: EventRowModel[]; counts: RowCounts; kept: number } | null = null;
  if (selected !== null) {
    const m = model.metrics.get(selected);
    const latest = m ? [...m.latest].reverse().filter((v) => connection === null || v.connectionId === connection) : [];
    detail = { name: selected, rows: latest.map(eventRow), counts: rowCounts(latest), kept: latest.length };
  }
  return { title: 'Metrics', active: 'metrics', behind, metrics, detail, connection };
}

export function personPage(model: DeliveryReadModel, q: string, connection: string | null = null) {
  const deleted = q ? (model.deletedPerson(q) ?? null) : null;
  const rows = (q ? model.person(q) : []).filter((v) => connection === null || v.connectionId === connection);
  const profileView = deleted ? undefined : [...rows].reverse().find((v) => v.recordKind === 'profile');
  const events = rows.filter((v) => v.recordKind !== 'profile');
  const first = (f: (v: OutcomeView) => string | null) => rows.map(f).find((x) => x !== null) ?? null;
  const contactId = first((v) => v.contactId) ?? deleted?.contactId ?? null;
  return {
    title: 'Person',
    /** Her personal fields are sealed under destroyed keys (docs/ERASURE.md): "erased" where they were. */
    erased: model.isErased(contactId),
    active: 'person',
    q,
    connection,
    deleted: deleted
      ? {
          contactId: deleted.contactId,
          requestedAt: iso(deleted.requestedAt),
          state: deleted.state,
          outcomeAt: iso(deleted.outcomeAt),
        }
      : null,
    found: rows.length > 0 || deleted !== null,
    ids: {
      contactId: first((v) => v.contactId) ?? deleted?.contactId ?? '—',
      email: first((v) => v.email),
      phone: first((v) => v.phone),
    },
    profile: profileView
      ? { kind: profileView.kind, at: iso(profileView.outcomeAt), properties: pretty(profileView.properties) }
      : null,
    events: events.map(eventRow),
    counts: rowCounts(events),
  };
}

export interface PipelineExtras {
  readonly canAct: boolean;
  readonly throttling: SinkThrottling;
  readonly replay: ReplayStatus | null;
  /** Topics a replay can re-read (with the prefix). */
  readonly replayTopics: readonly string[];
  /** Only the dead letters of this connection (the `connection=` filter). */
  readonly connection?: string | null;
}

const RECORD_KINDS: ReadonlyArray<{ key: RecordKindKey; label: string }> = [
  { key: 'event', label: 'events (klaviyo.events.v1)' },
  { key: 'profile', label: 'profiles (klaviyo.profiles.v1)' },
  { key: 'deletion', label: 'deletions (klaviyo.deletions.v1)' },
  { key: 'undecodable', label: 'records the sink could not decode' },
];

/** The server-side twin of console.js's replayText. */
export function replayText(s: ReplayStatus | null): string {
  if (!s) return 'no replay started from this console';
  return `${s.state}: ${s.topic}, ${s.done} of ${s.total} record(s)${s.summary ? ` (${s.summary})` : ''}${s.error ? ` — ${s.error}` : ''}, group ${s.group}`;
}

export function pipelinePage(
  model: DeliveryReadModel,
  lag: readonly PartitionLag[] | string,
  now: number,
  x: PipelineExtras,
) {
  const perMin = model.series(model.outcomesPerMinute, now, 60, 1);
  const summary = RECORD_KINDS.map(({ key, label }) => {
    const t: KindTally = model.recordKind(key);
    return {
      key,
      label,
      ...t,
      stored: t.delivered - t.repeats - t.sameRequest,
      total: t.delivered + t.skipped + t.deadLettered + t.retried + t.pending,
    };
  }).filter((r) => r.key !== 'undecodable' || r.total > 0);
  const reasons = [...model.lettersByReason.values()].sort((a, b) => b.count - a.count);
  const connection = x.connection ?? null;
  const letters = [...model.letters.values()]
    .reverse()
    .filter((l) => connection === null || letterConnection(l) === connection)
    .slice(0, 200);
  const t = x.throttling;
  const chart = [
    { label: 'Klaviyo 429s', cls: 's-429', values: model.series(t.throttledPerMinute, now, 60, 1) },
    { label: 'request retries', cls: 's-retries', values: model.series(t.retriesPerMinute, now, 60, 1) },
    { label: 'retried slices (outcomes)', cls: 's-slices', values: model.series(model.retriedPerMinute, now, 60, 1) },
  ];
  const max = Math.max(1, ...chart.flatMap((s) => s.values));
  return {
    title: 'Pipeline',
    active: 'pipeline',
    connection,
    lag: typeof lag === 'string' ? null : lag,
    lagError: typeof lag === 'string' ? lag : null,
    perMinute: { points: points(perMin, 600, 60), total: perMin.reduce((a, b) => a + b, 0) },
    outcomes: model.outcomes,
    summary,
    deadLetters: {
      total: model.deadLetterCount,
      byStage: [...model.lettersByStage].sort((a, b) => b[1] - a[1]).map(([stage, count]) => ({ stage, count })),
      sinkOutcomes: RECORD_KINDS.reduce((n, k) => n + model.recordKind(k.key).deadLettered, 0),
      held: model.letters.size,
      shown: letters.length,
    },
    chart: {
      series: chart.map((s) => ({
        ...s,
        points: points(s.values, 600, 80, max),
        total: s.values.reduce((a, b) => a + b, 0),
      })),
      max,
    },
    throttlingErrors: [...t.errors].map(([u, e]) => `${u} (${e})`).join(', '),
    canAct: x.canAct,
    replayTopics: x.replayTopics,
    replay: replayText(x.replay),
    replayRunning: x.replay?.state === 'running',
    reasons,
    letters: letters.map(letterRow),
  };
}

function letterRow(l: LetterView) {
  const d = l.letter;
  return {
    at: l.at,
    from: d ? `${d.original_topic}:${d.partition}:${d.offset}` : '—',
    reason: l.reason,
    failedAt: d ? iso(d.last_failure_at) : '—',
    reprocessed: l.reprocessedAt ? `reprocessed ${iso(l.reprocessedAt)}` : '',
  };
}

/** Header names whose values are never shown (a signature or a token could travel in one). */
const SENSITIVE_HEADER = /signature|authorization|token|secret|api[-_]?key|cookie/i;

export function letterPage(l: LetterView, canAct: boolean) {
  const d = l.letter;
  const facts: Array<[string, string]> = d
    ? [
        ['original record', `${d.original_topic}:${d.partition}:${d.offset}`],
        ['stage', d.stage],
        ['error class', d.error_class],
        ['error code', d.error_code ?? '—'],
        ['retriable', String(d.retriable)],
        ['attempts', String(d.attempts)],
        ['first failure', iso(d.first_failure_at)],
        ['last failure', iso(d.last_failure_at)],
        ['key', d.key ? Buffer.from(d.key).toString('utf8') : '—'],
      ]
    : [['decode error', l.decodeError ?? '']];
  const decoded = l.erased
    ? '(not kept: the person was deleted)'
    : (l.decoded ?? (d?.value ? `(${d.value.length} bytes that are not Avro of a registered schema)` : '(empty)'));
  return {
    title: 'Dead letter',
    active: 'pipeline',
    at: l.at,
    reason: d ? `${d.error_class}: ${d.error_message}` : l.reason,
    facts,
    headers: d
      ? d.headers.map((h) => ({ key: h.key, value: SENSITIVE_HEADER.test(h.key) ? '[redacted]' : h.value }))
      : [],
    decoded,
    reprocessedAt: l.reprocessedAt ? iso(l.reprocessedAt) : null,
    action: d && !l.erased ? { canAct, originalTopic: d.original_topic, stage: d.stage } : null,
  };
}

/** The Gaps page; `connection`: only that connection's reconcile reports (outages are ingest's, of every connection). */
export function gapsPage(gaps: GapsModel, connection: string | null = null) {
  const sum = (r: ReconcileReportRecord, k: 'missing' | 'healed' | 'healed_pending') =>
    r.rows.reduce((n, x) => n + x[k], 0);
  const span = (since: number, until: number) => `${iso(since)} .. ${iso(until)}`;
  const outages = [...gaps.outages.values()].reverse().map((o) => {
    const r = gaps.reportOf(o.key);
    return {
      reporter: o.outage?.reporter ?? o.key,
      span: o.outage ? span(o.outage.since, o.outage.until) : '—',
      failedWrites: o.outage?.failed_writes ?? '—',
      reconciledAt: o.reconciledAt === null ? null : iso(o.reconciledAt),
      window: r ? `${r.outcome}: ${sum(r, 'missing')} missing, ${sum(r, 'healed')} healed` : '—',
    };
  });
  const totals = [...gaps.totals].sort((a, b) => b[1].missing - a[1].missing).map(([name, t]) => ({ name, ...t }));
  const reports = gaps.reports
    .filter((r) => connection === null || connectionOf(r) === connection)
    .slice(-100)
    .reverse();
  const latest = reports[0];
  return {
    title: 'Gaps',
    active: 'gaps',
    outages,
    totals,
    latest: latest
      ? {
          trigger: latest.trigger,
          span: span(latest.since, latest.until),
          failed: latest.outcome === 'failed',
          error: latest.error,
          rows: latest.rows,
          objects: latest.objects,
          truncated: latest.truncated,
          unidentifiable: latest.unidentifiable_contacts,
        }
      : null,
    reports: reports.map((r) => ({
      reconciledAt: iso(r.reconciled_at),
      trigger: r.trigger,
      span: span(r.since, r.until),
      ok: r.outcome === 'ok',
      outcome: r.outcome,
      error: r.error,
      objects: r.objects,
      missing: sum(r, 'missing'),
      healed: sum(r, 'healed'),
      pending: sum(r, 'healed_pending'),
    })),
  };
}

function pretty(json: string | null): string {
  if (json === null) return '';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

/** What the Connections page shows of the console's connections (never a secret). */
export interface ConnectionsPageSource {
  readonly canAct: boolean;
  readonly canStore: boolean;
  readonly connections: readonly Connection[];
  readonly unusable: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  readonly klaviyo: { readonly redirectUri: string } | null;
  readonly intercom: { readonly redirectUri: string } | null;
  readonly klaviyoHalves: readonly KlaviyoHalf[];
  readonly intercomHalves: readonly IntercomHalf[];
}

export function connectionsPage(s: ConnectionsPageSource) {
  return {
    title: 'Connections',
    active: 'connections',
    canAct: s.canAct,
    canStore: s.canStore,
    klaviyo: s.klaviyo,
    intercom: s.intercom,
    connections: s.connections.map((c) => ({
      id: c.id,
      name: c.name,
      appId: c.intercom.appId,
      region: c.intercom.region,
      accountId: c.klaviyo.accountId ?? '—',
      intercomAuth: c.intercom.auth,
      klaviyoAuth: c.klaviyo.auth === 'oauth' ? 'OAuth' : 'private key',
      status: c.status,
      updatedAt: c.fromEnvironment ? 'environment' : iso(c.updatedAt),
      revision: c.revision,
      fromEnvironment: c.fromEnvironment,
      grantExpires: c.klaviyo.oauth ? iso(c.klaviyo.oauth.expiresAt) : null,
    })),
    unusable: s.unusable,
    klaviyoHalves: s.klaviyoHalves.map((h) => ({
      id: h.id,
      accountId: h.accountId,
      organization: h.organizationName ?? '',
      scopes: h.grant.scopes.join(' '),
      at: iso(h.connectedAt),
    })),
    intercomHalves: s.intercomHalves.map((h) => ({
      id: h.id,
      appId: h.appId,
      name: h.name ?? '',
      region: h.region,
      admin: h.admin ?? '',
      at: iso(h.connectedAt),
    })),
  };
}

/** Connections a filter can name (the `connection=` query parameter of the Metrics, Person and Pipeline pages). */
export function connectionFilter(ids: readonly string[], selected: string | null) {
  return { ids: [...new Set(['default', ...ids])].sort(), selected };
}

/** The connection of a dead letter: its key's `<connection id>/` prefix, else the default connection. */
export function letterConnection(l: LetterView): string {
  const key = l.letter?.key ? Buffer.from(l.letter.key).toString('utf8') : '';
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : 'default';
}
