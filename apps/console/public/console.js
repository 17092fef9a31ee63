// The console's page scripts (served as a file: the CSP allows scripts from 'self' only).
'use strict';
const byId = (id) => document.getElementById(id);

async function post(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers['x-console-operator-token'] = token;
  const r = await fetch(path, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body) });
  const b = await r.json().catch(() => ({}));
  return { r, b };
}

function replayText(s) {
  return s ? s.state + ': ' + s.topic + ', ' + s.done + ' of ' + s.total + ' record(s)' + (s.summary ? ' (' + s.summary + ')' : '') + (s.error ? ' — ' + s.error : '') + ', group ' + s.group : 'no replay started from this console';
}

function metricsPage() {
  const f = byId('filter'), o = byId('intercom-only');
  const run = () => {
    const q = f.value.toLowerCase();
    for (const r of document.querySelectorAll('#metrics tr[data-metric]')) r.hidden = !(r.dataset.metric.includes(q) && (!o.checked || r.dataset.intercom === '1'));
  };
  f.addEventListener('input', run);
  o.addEventListener('change', run);
}

function pipelinePage() {
  const st = byId('replay-status');
  let poll = null;
  const follow = () => {
    clearInterval(poll);
    poll = setInterval(async () => {
      const r = await fetch('/api/replay', { credentials: 'same-origin' });
      const b = await r.json();
      st.textContent = replayText(b.replay);
      if (!b.replay || b.replay.state !== 'running') clearInterval(poll);
    }, 1000);
  };
  if (st.dataset.running === '1') follow();
  const plan = byId('replay-plan');
  if (!plan) return;
  let planId = null;
  const act = async (path, body) => {
    const { r, b } = await post(path, body, byId('operator-token').value);
    if (!r.ok) throw new Error('refused (' + r.status + '): ' + (b.message || ''));
    return b;
  };
  plan.addEventListener('click', async () => {
    const out = byId('replay-plan-lines'), start = byId('replay-start');
    out.hidden = false;
    start.hidden = true;
    try {
      const body = { topic: byId('replay-topic').value };
      const f = byId('replay-from').value.trim(), t = byId('replay-to').value.trim();
      if (f) body.fromTime = f;
      if (t) body.toTime = t;
      const p = await act('/api/replay/plan', body);
      planId = p.id;
      out.textContent = p.lines.join('\n');
      start.dataset.total = p.total;
      start.dataset.topic = p.topic;
      start.hidden = p.total === '0';
    } catch (e) {
      out.textContent = e.message;
    }
  });
  byId('replay-start').addEventListener('click', async (ev) => {
    const b = ev.target;
    if (!confirm('Replay ' + b.dataset.total + ' record(s) of ' + b.dataset.topic + '?')) return;
    try {
      const s = await act('/api/replay/start', { id: planId });
      st.textContent = replayText(s);
      b.hidden = true;
      follow();
    } catch (e) {
      st.textContent = e.message;
    }
  });
}

function letterPage() {
  const button = byId('reprocess');
  if (!button) return;
  button.addEventListener('click', async () => {
    const at = button.dataset.at;
    if (!confirm('Send ' + at + ' back to ' + button.dataset.topic + '?')) return;
    const { r, b } = await post('/api/dead-letters/reprocess', { at }, byId('operator-token').value);
    byId('result').textContent = r.ok ? 'reprocessed: sent to ' + b.sentTo : 'refused (' + r.status + '): ' + (b.message || '');
  });
}

function connectionsPage() {
  const out = byId('result');
  const token = () => (byId('operator-token') ? byId('operator-token').value : '');
  const act = async (path, body, done) => {
    out.textContent = 'working…';
    out.className = '';
    const { r, b } = await post(path, body || {}, token());
    if (!r.ok) {
      out.textContent = 'refused (' + r.status + '): ' + (b.message || '');
      out.className = 'note';
      return;
    }
    if (done) done(b);
    else location.reload();
  };
  for (const button of document.querySelectorAll('button.act')) {
    button.addEventListener('click', () => {
      const { id, action } = button.dataset;
      if (action === 'remove' && !confirm('Remove connection ' + id + '? Its routing stops (an OAuth grant is revoked); its records stay replayable.')) return;
      act('/api/connections/' + encodeURIComponent(id) + '/' + action);
    });
  }
  for (const button of document.querySelectorAll('button.discard')) {
    button.addEventListener('click', () => act('/api/connections-halves/' + encodeURIComponent(button.dataset.id) + '/discard'));
  }
  const go = (b) => { location.href = b.url; };
  const ck = byId('connect-klaviyo');
  if (ck) ck.addEventListener('click', () => act('/api/connections-oauth/klaviyo/start', {}, go));
  const ci = byId('connect-intercom');
  if (ci) ci.addEventListener('click', () => act('/api/connections-oauth/intercom/start', { region: byId('intercom-region').value }, go));
  const pair = byId('pair');
  if (pair)
    pair.addEventListener('click', () =>
      act('/api/connections-pair', { intercom: byId('pair-intercom').value, klaviyo: byId('pair-klaviyo').value, id: byId('pair-id').value, name: byId('pair-name').value }),
    );
  const add = byId('add');
  if (add)
    add.addEventListener('click', () =>
      act('/api/connections', {
        id: byId('add-id').value,
        name: byId('add-name').value,
        region: byId('add-region').value,
        intercomAccessToken: byId('add-intercom-token').value,
        intercomClientSecret: byId('add-intercom-secret').value,
        klaviyoPrivateKey: byId('add-klaviyo-key').value,
      }),
    );
}

function loginPage() {
  const go = byId('go');
  if (!go) return;
  go.addEventListener('click', async () => {
    const { r } = await post('/login', { token: byId('token').value });
    if (r.ok) location.href = '/metrics';
    else byId('msg').textContent = 'refused';
  });
}

document.addEventListener('DOMContentLoaded', () => {
  const page = document.body.dataset.page;
  if (page === 'metrics') metricsPage();
  else if (page === 'pipeline') (byId('reprocess') ? letterPage : pipelinePage)();
  else if (page === 'connections') connectionsPage();
  else loginPage();
});
