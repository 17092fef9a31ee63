import type { DeliveryReadModel, LetterView, MetricStats, OutcomeView } from './read-model';
import type { ReconcileReportRecord } from '@iks/domain';
import type { GapsModel } from './gaps-model';
import type { PartitionLag } from './pipeline-lag';
import type { ReplayStatus } from './console-replay';
import type { SinkThrottling } from './sink-throttling';

/** Server-rendered pages: plain HTML, a little inline CSS and JS, everything escaped. */

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const iso = (ms: number | null) => (ms === null || !Number.isFinite(ms) ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z'));

/** Intercom's mark (a simplified glyph): shown next to the metrics this pipeline syncs, as Klaviyo does. */
const INTERCOM_MARK = '<svg class="mark" role="img" aria-label="Intercom" width="16" height="16" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f8ded"/><path d="M4 5v5M6.7 4v7M9.3 4v7M12 5v5" stroke="#fff" stroke-width="1.3" stroke-linecap="round"/><path d="M4 12.3c2.5 1.4 5.5 1.4 8 0" stroke="#fff" stroke-width="1.2" fill="none" stroke-linecap="round"/></svg>';

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}header{background:#1b1f24;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header a.on{color:#fff;font-weight:600}main{padding:16px}table{border-collapse:collapse;margin:8px 0}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f5f7}.num{text-align:right}
.mark{vertical-align:middle;margin-right:4px}pre{background:#f6f8fa;padding:8px;max-width:900px;overflow:auto;font-size:12px}
.k-delivered{color:#0a7d28}.k-dead_lettered{color:#b3261e}.k-skipped{color:#8a6d00}.k-retried{color:#6b4bb3}.muted{color:#777}
input{padding:4px}button{padding:4px 10px}.note{background:#fff8e1;padding:8px;border-left:3px solid #f0b400}`;

function layout(title: string, active: string, body: string, script = ''): string {
  const nav = [['metrics', '/metrics', 'Metrics'], ['person', '/person', 'Person'], ['pipeline', '/pipeline', 'Pipeline'], ['gaps', '/gaps', 'Gaps']]
    .map(([id, href, label]) => `<a href="${href}"${id === active ? ' class="on"' : ''}>${label}</a>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · intercom-klaviyo-sync</title><style>${STYLE}</style></head>`
    + `<body><header><strong>intercom → klaviyo</strong>${nav}</header><main>${body}</main>${script ? `<script>${script}</script>` : ''}</body></html>`;
}

/** An inline SVG sparkline (no library). */
export function sparkline(values: readonly number[], width = 120, height = 24): string {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  return `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><polyline fill="none" stroke="#1f8ded" stroke-width="1.5" points="${pts}"/></svg>`;
}

/** A line chart of a few series over the same minutes (inline SVG), with a legend. */
export function lineChart(id: string, series: ReadonlyArray<{ label: string; color: string; values: readonly number[] }>, width = 600, height = 80): string {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const lines = series.map((s) => {
    const step = s.values.length > 1 ? width / (s.values.length - 1) : width;
    const pts = s.values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`;
  }).join('');
  const legend = series.map((s) => `<span style="color:${s.color}" data-series="${esc(s.label)}">■ ${esc(s.label)}: ${s.values.reduce((a, b) => a + b, 0)}</span>`).join(' · ');
  return `<div id="${id}"><svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" style="border-bottom:1px solid #ddd">${lines}</svg><p>${legend} <span class="muted">(max ${max}/min)</span></p></div>`;
}

export interface MetricRow {
  readonly name: string;
  readonly intercom: boolean;
}

export function metricsPage(model: DeliveryReadModel, rows: readonly MetricRow[], selected: string | null, now: number, behind: number | null): string {
  const body = rows.map(({ name, intercom }) => {
    const m = model.metrics.get(name) ?? model.metric(name);
    return `<tr data-metric="${esc(name.toLowerCase())}"><td>${intercom ? INTERCOM_MARK : ''}<a href="/metrics?metric=${encodeURIComponent(name)}">${esc(name)}</a></td>`
      + `<td class="num">${model.deliveredSince(m, now, 60)}</td><td class="num">${model.deliveredSince(m, now, 24 * 60)}</td>`
      + `<td class="num">${model.deliveredSince(m, now, 7 * 24 * 60)}</td><td class="num" data-col="all">${m.delivered}</td>`
      + `<td class="num">${m.repeats}</td><td class="num">${m.deadLettered}</td><td class="num">${m.skipped}</td><td>${esc(m.lastEventTime ?? '—')}</td>`
      + `<td>${sparkline(model.series(m.perMinute, now, 24, 60))}</td></tr>`;
  }).join('');
  const status = behind === null ? '' : behind === 0 ? '<p class="muted">read model caught up with Kafka</p>' : `<p class="note">catching up: ${behind} outcome(s) not read yet</p>`;
  let detail = '';
  if (selected !== null) {
    const m = model.metrics.get(selected);
    const latest = m ? [...m.latest].reverse() : [];
    detail = `<h2 id="latest">Latest events: ${esc(selected)}</h2>${latest.length === 0 ? '<p>none yet</p>' : `<table id="latest-events"><tr><th>event time</th><th>outcome</th><th>profile</th><th>unique_id</th><th>properties (as sent to Klaviyo)</th></tr>${latest.map((v) =>
      `<tr><td>${esc(iso(v.eventTime))}</td><td class="k-${v.kind}">${esc(v.kind)}<br><span class="muted">${esc(iso(v.outcomeAt))}</span></td>`
      + `<td>${personLink(v)}</td><td><code>${esc(v.uniqueId)}</code></td><td><pre>${esc(pretty(v.properties))}</pre></td></tr>`).join('')}</table>`}`;
  }
  return layout('Metrics', 'metrics', `<h1>Metrics</h1>${status}<p class="muted">Delivered events by the time Klaviyo accepted them, each unique_id once (Klaviyo keeps the first).</p><p><input id="filter" placeholder="Filter metrics" autocomplete="off"> <label><input type="checkbox" id="intercom-only"> Intercom only</label></p>`
    + `<table id="metrics"><tr><th>metric</th><th>last hour</th><th>last day</th><th>last 7 days</th><th>all</th><th title="delivered again with a unique_id Klaviyo already has: it keeps the first">repeats</th><th>dead-lettered</th><th>skipped</th><th>last event time</th><th>delivered, last 24 h</th></tr>${body}</table>${detail}`,
  `const f=document.getElementById('filter'),o=document.getElementById('intercom-only');function run(){const q=f.value.toLowerCase();for(const r of document.querySelectorAll('#metrics tr[data-metric]')){r.style.display=(r.dataset.metric.includes(q)&&(!o.checked||r.querySelector('.mark')))?'':'none';}}f.addEventListener('input',run);o.addEventListener('change',run);`);
}

function personLink(v: OutcomeView): string {
  const q = v.email ?? v.phone ?? v.contactId;
  return q ? `<a href="/person?q=${encodeURIComponent(q)}">${esc(q)}</a>` : '—';
}

function pretty(json: string | null): string {
  if (json === null) return '';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export function personPage(model: DeliveryReadModel, q: string): string {
  const rows = q ? model.person(q) : [];
  const profile = [...rows].reverse().find((v) => v.recordKind === 'profile');
  const events = rows.filter((v) => v.recordKind !== 'profile');
  const form = `<form method="get" action="/person"><input name="q" id="q" value="${esc(q)}" placeholder="email, phone (E.164) or Intercom contact id" size="40"> <button>Search</button></form>`;
  if (!q) return layout('Person', 'person', `<h1>Person</h1>${form}`);
  const ids = rows[0] ? `<p>Intercom contact <code>${esc(rows.find((r) => r.contactId)?.contactId ?? '—')}</code> · ${esc(rows.find((r) => r.email)?.email ?? 'no email')} · ${esc(rows.find((r) => r.phone)?.phone ?? 'no phone')}</p>` : '';
  const prof = profile ? `<h2>Profile as sent</h2><p class="muted">${esc(profile.kind)} at ${esc(iso(profile.outcomeAt))}</p><pre>${esc(pretty(profile.properties))}</pre>` : '';
  const table = events.length === 0 ? '<p>no events</p>' : `<table id="person-events"><tr><th>metric</th><th>happened in Intercom</th><th>received</th><th>mapped</th><th>outcome</th><th>at</th><th>reason</th><th>record</th></tr>${events.map((v) =>
    `<tr><td>${esc(v.metric ?? v.recordKind ?? '—')}</td><td>${esc(iso(v.eventTime))}</td><td>${esc(iso(v.receivedAt))}</td><td>${esc(iso(v.mappedAt))}</td><td class="k-${v.kind}">${esc(v.kind)}</td>`
    + `<td>${esc(iso(v.outcomeAt))}</td><td>${esc(v.reason)}</td><td class="muted">${esc(v.at)}</td></tr>`).join('')}</table>`;
  return layout('Person', 'person', `<h1>Person</h1>${form}${rows.length === 0 ? `<p>nothing found for ${esc(q)}</p>` : ids + prof + `<h2>Events through the stages</h2>${table}`}`);
}

export interface PipelineExtras {
  readonly canAct: boolean;
  readonly throttling: SinkThrottling;
  readonly replay: ReplayStatus | null;
  /** Topics a replay can re-read (with the prefix). */
  readonly replayTopics: readonly string[];
}

/** A script's JSON literal, safe inside <script>. */
const jsLiteral = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const REPLAY_STATUS_JS = "function replayText(s){return s?s.state+': '+s.topic+', '+s.done+' of '+s.total+' record(s)'+(s.summary?' ('+s.summary+')':'')+(s.error?' — '+s.error:'')+', group '+s.group:'no replay started from this console';}";

export function pipelinePage(model: DeliveryReadModel, lag: readonly PartitionLag[] | string, now: number, x: PipelineExtras): string {
  const lagTable = typeof lag === 'string' ? `<p class="note">lag unavailable: ${esc(lag)}</p>` : `<table id="lag"><tr><th>stage</th><th>group</th><th>topic</th><th>partition</th><th>committed</th><th>end</th><th>lag</th></tr>${lag.map((r) =>
    `<tr><td>${r.stage}</td><td>${esc(r.groupId)}</td><td>${esc(r.topic)}</td><td class="num">${r.partition}</td><td class="num">${esc(r.committed ?? '—')}</td><td class="num">${esc(r.high)}</td><td class="num">${r.lag}</td></tr>`).join('')}</table>`;
  const perMin = model.series(model.outcomesPerMinute, now, 60, 1);
  const kinds = ['delivered', 'retried', 'dead_lettered', 'skipped', 'pending'] as const;
  const reasons = [...model.lettersByReason].sort((a, b) => b[1] - a[1]);
  const letters = [...model.letters.values()].reverse().slice(0, 200);
  const t = x.throttling;
  const throttling = lineChart('klaviyo-throttling', [
    { label: 'Klaviyo 429s', color: '#b3261e', values: model.series(t.throttledPerMinute, now, 60, 1) },
    { label: 'request retries', color: '#f0b400', values: model.series(t.retriesPerMinute, now, 60, 1) },
    { label: 'retried slices (outcomes)', color: '#6b4bb3', values: model.series(model.retriedPerMinute, now, 60, 1) },
  ]) + `<p class="muted">429s and retries from the sinks' /metrics (scraped every 15 s since this console started${t.errors.size > 0 ? `; not reachable: ${esc([...t.errors].map(([u, e]) => `${u} (${e})`).join(', '))}` : ''}); retried slices from klaviyo.outcomes.v1.</p>`;
  const replay = x.canAct
    ? `<p>Re-deliver (klaviyo.* topics) or re-map (the raw topic) from a time, through a separate consumer group, as <code>npm run cli -- replay</code> does; the plan first, then the replay after confirmation. Klaviyo keeps the first event per unique_id: a replay only fills gaps.</p>`
      + `<p><select id="replay-topic">${x.replayTopics.map((tp) => `<option>${esc(tp)}</option>`).join('')}</select> from <input id="replay-from" placeholder="ISO time (empty: the beginning)" size="26"> to <input id="replay-to" placeholder="ISO time (empty: the end now)" size="26"></p>`
      + '<p><input type="password" id="operator-token" placeholder="operator token" autocomplete="off"> <button id="replay-plan">Plan</button></p>'
      + '<pre id="replay-plan-lines" hidden></pre><p><button id="replay-start" hidden>Start replay…</button></p>'
    : '<p class="muted">read-only: set CONSOLE_OPERATOR_TOKEN to plan and start a replay from here (or use <code>npm run cli -- replay</code>)</p>';
  const script = `${REPLAY_STATUS_JS}const st=document.getElementById('replay-status');let poll=null;function follow(){clearInterval(poll);poll=setInterval(async()=>{const r=await fetch('/api/replay',{credentials:'same-origin'});const b=await r.json();st.textContent=replayText(b.replay);if(!b.replay||b.replay.state!=='running')clearInterval(poll);},1000);}`
    + `if(${jsLiteral(x.replay?.state === 'running')})follow();`
    + (x.canAct ? `let planId=null;const tok=()=>document.getElementById('operator-token').value;
async function act(path,body){const r=await fetch(path,{method:'POST',credentials:'same-origin',headers:{'content-type':'application/json','x-console-operator-token':tok()},body:JSON.stringify(body)});const b=await r.json().catch(()=>({}));if(!r.ok)throw new Error('refused ('+r.status+'): '+(b.message||''));return b;}
document.getElementById('replay-plan').addEventListener('click',async()=>{const out=document.getElementById('replay-plan-lines'),start=document.getElementById('replay-start');out.hidden=false;start.hidden=true;
try{const body={topic:document.getElementById('replay-topic').value};const f=document.getElementById('replay-from').value.trim(),t=document.getElementById('replay-to').value.trim();if(f)body.fromTime=f;if(t)body.toTime=t;
const p=await act('/api/replay/plan',body);planId=p.id;out.textContent=p.lines.join('\\n');start.dataset.total=p.total;start.dataset.topic=p.topic;start.hidden=p.total==='0';}catch(e){out.textContent=e.message;}});
document.getElementById('replay-start').addEventListener('click',async(ev)=>{const b=ev.target;if(!confirm('Replay '+b.dataset.total+' record(s) of '+b.dataset.topic+'?'))return;
try{const s=await act('/api/replay/start',{id:planId});st.textContent=replayText(s);b.hidden=true;follow();}catch(e){st.textContent=e.message;}});` : '');
  return layout('Pipeline', 'pipeline', `<h1>Pipeline</h1><h2>Lag per stage and partition</h2>${lagTable}`
    + `<h2>Outcomes per minute, last hour</h2>${sparkline(perMin, 600, 60)}<p>${kinds.map((k) => `<span class="k-${k}">${k}: ${model.kinds.get(k) ?? 0}</span>`).join(' · ')}</p>`
    + `<h2>Klaviyo 429s and retries per minute, last hour</h2>${throttling}`
    + `<h2>Replay</h2>${replay}<p id="replay-status">${esc(replayText(x.replay))}</p>`
    + `<h2>Dead letters by reason</h2>${reasons.length === 0 ? '<p>none</p>' : `<table id="dlq-reasons"><tr><th>count</th><th>stage · reason</th></tr>${reasons.map(([r, n]) => `<tr><td class="num">${n}</td><td>${esc(r)}</td></tr>`).join('')}</table>`}`
    + `<h2>Dead letters</h2>${letters.length === 0 ? '<p>none</p>' : `<table id="dlq"><tr><th>dead letter</th><th>from</th><th>reason</th><th>failed at</th><th></th></tr>${letters.map((l) => letterRow(l)).join('')}</table>`}`
    + (x.canAct ? '' : '<p class="muted">read-only: set CONSOLE_OPERATOR_TOKEN to reprocess dead letters from here (or use <code>npm run cli -- dlq reprocess</code>)</p>'), script);
}

/** The server-side twin of REPLAY_STATUS_JS's replayText. */
function replayText(s: ReplayStatus | null): string {
  if (!s) return 'no replay started from this console';
  return `${s.state}: ${s.topic}, ${s.done} of ${s.total} record(s)${s.summary ? ` (${s.summary})` : ''}${s.error ? ` — ${s.error}` : ''}, group ${s.group}`;
}

function letterRow(l: LetterView): string {
  const d = l.letter;
  return `<tr><td><a href="/dead-letters/${encodeURIComponent(l.at)}">${esc(l.at)}</a></td><td>${d ? esc(`${d.original_topic}:${d.partition}:${d.offset}`) : '—'}</td>`
    + `<td>${esc(l.reason)}</td><td>${d ? esc(iso(d.last_failure_at)) : '—'}</td><td>${l.reprocessedAt ? `reprocessed ${esc(iso(l.reprocessedAt))}` : ''}</td></tr>`;
}

/** Header names whose values are never shown (a signature or a token could travel in one). */
const SENSITIVE_HEADER = /signature|authorization|token|secret|api[-_]?key|cookie/i;

export function letterPage(l: LetterView, canAct: boolean): string {
  const d = l.letter;
  const facts: Array<[string, string]> = d ? [
    ['original record', `${d.original_topic}:${d.partition}:${d.offset}`], ['stage', d.stage], ['error class', d.error_class], ['error code', d.error_code ?? '—'],
    ['retriable', String(d.retriable)], ['attempts', String(d.attempts)], ['first failure', iso(d.first_failure_at)], ['last failure', iso(d.last_failure_at)],
    ['key', d.key ? Buffer.from(d.key).toString('utf8') : '—'],
  ] : [['decode error', l.decodeError ?? '']];
  const headers = d ? d.headers.map((h) => `<tr><td>${esc(h.key)}</td><td>${SENSITIVE_HEADER.test(h.key) ? '[redacted]' : esc(h.value)}</td></tr>`).join('') : '';
  const action = !d ? '' : canAct
    ? `<h2>Reprocess</h2><p>Sends the original key, value and headers back to <code>${esc(d.original_topic)}</code>; the ${esc(d.stage)} processes it again.</p>`
      + `<p><input type="password" id="operator-token" placeholder="operator token" autocomplete="off"> <button id="reprocess">Reprocess…</button></p><p id="result"></p>`
    : '<p class="muted">read-only: set CONSOLE_OPERATOR_TOKEN to reprocess from here</p>';
  const script = d && canAct ? `document.getElementById('reprocess').addEventListener('click',async()=>{const at=${JSON.stringify(l.at).replace(/</g, '\\u003c')};
if(!confirm('Send '+at+' back to ${esc(d.original_topic)}?'))return;const r=await fetch('/api/dead-letters/reprocess',{method:'POST',credentials:'same-origin',
headers:{'content-type':'application/json','x-console-operator-token':document.getElementById('operator-token').value},body:JSON.stringify({at})});
const b=await r.json().catch(()=>({}));document.getElementById('result').textContent=r.ok?'reprocessed: sent to '+b.sentTo:'refused ('+r.status+'): '+(b.message||'');});` : '';
  return layout('Dead letter', 'pipeline', `<h1>Dead letter <code>${esc(l.at)}</code></h1><p class="note" id="reason">${esc(d ? `${d.error_class}: ${d.error_message}` : l.reason)}</p>`
    + `<table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`
    + `<h2>Headers</h2>${headers ? `<table id="headers">${headers}</table>` : '<p>none</p>'}`
    + `<h2>Original value, decoded</h2><pre id="decoded">${esc(l.decoded ?? (d?.value ? `(${d.value.length} bytes that are not Avro of a registered schema)` : '(empty)'))}</pre>${l.reprocessedAt ? `<p>reprocessed at ${esc(iso(l.reprocessedAt))}</p>` : ''}${action}`, script);
}

function timeSpan(since: number, until: number): string {
  return `${esc(iso(since))} .. ${esc(iso(until))}`;
}

export function gapsPage(gaps: GapsModel): string {
  const sum = (r: ReconcileReportRecord, k: 'missing' | 'healed' | 'healed_pending') => r.rows.reduce((n, x) => n + x[k], 0);
  const outages = [...gaps.outages.values()].reverse();
  const outageTable = outages.length === 0 ? '<p>none reported</p>' : `<table id="outages"><tr><th>reported by</th><th>ingest answered 503</th><th>failed writes</th><th>state</th><th>its window</th></tr>${outages.map((o) => {
    const r = gaps.reportOf(o.key);
    return `<tr><td>${esc(o.outage?.reporter ?? o.key)}</td><td>${o.outage ? timeSpan(o.outage.since, o.outage.until) : '—'}</td><td class="num">${o.outage?.failed_writes ?? '—'}</td>`
      + `<td>${o.reconciledAt === null ? '<span class="k-dead_lettered">not reconciled yet</span>' : `<span class="k-delivered">reconciled</span> ${esc(iso(o.reconciledAt))}`}</td>`
      + `<td>${r ? `${r.outcome}: ${sum(r, 'missing')} missing, ${sum(r, 'healed')} healed` : '—'}</td></tr>`;
  }).join('')}</table>`;
  const totals = [...gaps.totals].sort((a, b) => b[1].missing - a[1].missing);
  const totalTable = totals.length === 0 ? '' : `<h2>Missing and healed per metric, every window read</h2><table id="gap-totals"><tr><th>metric</th><th>missing</th><th>healed</th></tr>${totals.map(([name, t]) =>
    `<tr><td>${esc(name)}</td><td class="num">${t.missing}</td><td class="num">${t.healed}</td></tr>`).join('')}</table>`;
  const reports = gaps.reports.slice(-100).reverse();
  const latest = reports[0];
  const latestTable = !latest ? '' : `<h2>Latest window: ${esc(latest.trigger)} ${timeSpan(latest.since, latest.until)}</h2>`
    + (latest.outcome === 'failed' ? `<p class="note">failed: ${esc(latest.error)}</p>` : `<table id="latest-report"><tr><th>metric</th><th>expected</th><th>present</th><th>healed earlier, pending</th><th>missing</th><th>healed now</th></tr>${latest.rows.map((x) =>
      `<tr><td>${esc(x.name)}</td><td class="num">${x.expected}</td><td class="num">${x.present}</td><td class="num">${x.healed_pending}</td><td class="num">${x.missing}</td><td class="num">${x.healed}</td></tr>`).join('')}</table>`
      + `<p class="muted">${latest.objects} Intercom objects compared${latest.truncated ? `, ${latest.truncated} truncated (older parts not answered)` : ''}${latest.unidentifiable_contacts ? `, ${latest.unidentifiable_contacts} contacts without email or E.164 phone (no profile expected)` : ''}</p>`);
  const windows = reports.length === 0 ? '' : `<h2>Reconciled windows, newest first</h2><table id="reports"><tr><th>reconciled at</th><th>trigger</th><th>window</th><th>outcome</th><th>objects</th><th>missing</th><th>healed</th><th>pending</th></tr>${reports.map((r) =>
    `<tr><td>${esc(iso(r.reconciled_at))}</td><td>${esc(r.trigger)}</td><td>${timeSpan(r.since, r.until)}</td><td class="${r.outcome === 'ok' ? 'k-delivered' : 'k-dead_lettered'}">${esc(r.outcome)}${r.error ? `<br><span class="muted">${esc(r.error)}</span>` : ''}</td>`
    + `<td class="num">${r.objects}</td><td class="num">${sum(r, 'missing')}</td><td class="num">${sum(r, 'healed')}</td><td class="num">${sum(r, 'healed_pending')}</td></tr>`).join('')}</table>`;
  const intro = '<p class="muted">What Intercom holds that the webhooks never delivered: the reconciler compares each window with what the pipeline produced and heals the gaps (README "Gaps"). '
    + 'Read from <code>pipeline.reconcile.v1</code> (each window it reconciled) and <code>pipeline.outages.v1</code> (the times ingest answered 503). '
    + 'A one-off comparison: <code>npm run cli -- reconcile --since … --until … [--heal]</code>.</p>';
  const none = gaps.reports.length === 0 ? '<p class="note" id="no-reports">no reconcile report yet: the reconciler (<code>npm run start:reconciler</code>; <code>npm start</code> runs it) publishes one per window</p>' : '';
  return layout('Gaps', 'gaps', `<h1>Gaps</h1>${intro}${none}<h2>Outages ingest reported</h2>${outageTable}${latestTable}${totalTable}${windows}`);
}

export function loginPage(): string {
  return layout('Sign in', '', '<h1>Console token</h1><p><input type="password" id="token" placeholder="CONSOLE_TOKEN" autocomplete="off"> <button id="go">Sign in</button></p><p id="msg"></p>',
    `document.getElementById('go').addEventListener('click',async()=>{const r=await fetch('/login',{method:'POST',credentials:'same-origin',headers:{'content-type':'application/json'},body:JSON.stringify({token:document.getElementById('token').value})});if(r.ok)location.href='/metrics';else document.getElementById('msg').textContent='refused';});`);
}

export type { MetricStats };
