/**
 * `npm run demo`: a realistic day of an Intercom workspace, played against the RUNNING pipeline
 * (`npm start` in another terminal) through the Intercom emulator.
 *
 * 1. registers the day's contacts in the Intercom emulator (PUT /__emulator/contacts), so the
 *    transformer can GET /contacts/{id} them;
 * 2. sends signed webhooks to ingest: contacts created (a user, a lead that signs up, a user who
 *    later asks to be forgotten), a conversation (created, replied, read, rated), a ticket (created,
 *    submitted, waiting, replied, resolved by ticket.state.updated AND ticket.resolved), one
 *    redelivered notification (same id, delivery_attempts 2), one with a bad signature (401
 *    expected), and the contact deletion;
 * 3. waits (bounded) until the Klaviyo emulator holds what the day should produce, and prints it
 *    as Klaviyo's Metrics page would list it: metrics with counts, profiles, deletion requests.
 *
 * Exit 0 when everything expected arrived, 1 otherwise (with what is missing).
 *
 * Env: INGEST_URL (default http://127.0.0.1:3000/webhooks/intercom), INTERCOM_CLIENT_SECRET
 * (default local-dev-secret), KLAVIYO_EMULATOR_URL (default http://127.0.0.1:8090),
 * INTERCOM_EMULATOR_URL (default http://127.0.0.1:8091), DEMO_WAIT_S (default 60).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { IntercomAdmin, IntercomContact, IntercomTeam } from '@iks/intercom';
import {
  contactDeletedNotification,
  contactNotification,
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeTeam,
  signBody,
  ticketLifecycle,
  type IntercomNotification,
} from '../../intercom-emulator/src';
import { EnvReader } from '../../support/env-reader';
import { sleep, waitUntil } from '../../support/wait-for';

const env = new EnvReader();
const INGEST_URL = env.string('INGEST_URL', 'http://127.0.0.1:3000/webhooks/intercom');
const SECRET = env.string('INTERCOM_CLIENT_SECRET', 'local-dev-secret').split(',')[0].trim();
const KLAVIYO_URL = env.string('KLAVIYO_EMULATOR_URL', 'http://127.0.0.1:8090').replace(/\/+$/, '');
const INTERCOM_URL = env.string('INTERCOM_EMULATOR_URL', 'http://127.0.0.1:8091').replace(/\/+$/, '');
const WAIT_MS = env.int('DEMO_WAIT_S', 60, 1) * 1000;
env.done();

const out = (s = '') => process.stdout.write(`${s}\n`);
const hhmm = (unix: number) => new Date(unix * 1000).toISOString().slice(11, 16);

class Unreachable extends Error {}

// ------------------------------------------------------------------ HTTP helpers

async function http(url: string, init: RequestInit = {}, timeoutMs = 5000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

async function getJson<T>(url: string): Promise<T> {
  const res = await http(url);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** Sends one notification, signed with `secret`; returns the HTTP status (throws Unreachable when ingest does not answer). */
async function post(notification: IntercomNotification, secret = SECRET): Promise<{ status: number; body: string }> {
  const raw = JSON.stringify(notification);
  try {
    const res = await http(INGEST_URL, {
      method: 'POST',
      body: raw,
      headers: {
        'Content-Type': 'application/json',
        'X-Hub-Signature': signBody(raw, secret),
        'User-Agent': 'intercom-demo-webhooks',
      },
    });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    throw new Unreachable(
      `${INGEST_URL} did not answer (${(e as Error).cause ? String(((e as Error).cause as { code?: unknown }).code ?? (e as Error).message) : (e as Error).message})`,
    );
  }
}

// ------------------------------------------------------------------ the day

interface Step {
  label: string;
  notification: IntercomNotification;
  secret?: string;
  expectStatus: number;
}

interface Expected {
  metric: string;
  email: string;
  why: string;
}

const problems: string[] = [];

async function step(n: number, s: Step): Promise<void> {
  const { status, body } = await post(s.notification, s.secret);
  const ok = status === s.expectStatus;
  const clock = hhmm(s.notification.created_at);
  const tail = ok ? '' : `   <-- expected ${s.expectStatus}: ${body.slice(0, 160)}`;
  out(
    `  ${String(n).padStart(2)}. ${clock}  ${s.notification.topic.padEnd(27)} ${s.label.padEnd(52)} HTTP ${status}${tail}`,
  );
  if (!ok)
    problems.push(`step ${n} (${s.notification.topic}, ${s.label}) answered ${status}, expected ${s.expectStatus}`);
}

async function registerInIntercom(contact: IntercomContact): Promise<boolean> {
  try {
    const res = await http(`${INTERCOM_URL}/__emulator/contacts`, {
      method: 'PUT',
      body: JSON.stringify(contact),
      headers: { 'Content-Type': 'application/json' },
    });
    return res.ok;
  } catch {
    return false;
  }
}

async function intercomDirectory(): Promise<{
  admin: IntercomAdmin;
  team: IntercomTeam | null;
  fromEmulator: boolean;
}> {
  try {
    const ds = await getJson<{ admins: IntercomAdmin[]; teams: IntercomTeam[] }>(`${INTERCOM_URL}/__emulator/dataset`);
    const admin = ds.admins[0];
    const team = ds.teams.find((t) => admin.team_ids.includes(Number(t.id))) ?? ds.teams[0] ?? null;
    if (admin) return { admin, team, fromEmulator: true };
  } catch {
    /* not reachable: fall back below */
  }
  return { admin: makeAdmin({ name: 'Margaret Hamilton' }), team: makeTeam({ name: 'Support' }), fromEmulator: false };
}

async function main(): Promise<number> {
  const run = randomBytes(3).toString('hex');
  const now = Math.floor(Date.now() / 1000);
  const dayStart = now - 4 * 3600; // the "day" happened over the last four hours
  out(`intercom-klaviyo-sync demo (run ${run})`);
  out(
    `  webhooks  -> ${INGEST_URL} (signed with ${process.env.INTERCOM_CLIENT_SECRET ? 'INTERCOM_CLIENT_SECRET' : 'the local development secret'})`,
  );
  out(`  Intercom  -> ${INTERCOM_URL} (emulator)`);
  out(`  Klaviyo   -> ${KLAVIYO_URL} (emulator)`);

  // Is the pipeline there at all? (a GET answers 404/405 from a live ingest; a refused connection means it is not running)
  try {
    await http(INGEST_URL.replace(/\/webhooks\/intercom$/, '/health/ready'), {}, 3000);
  } catch {
    out('');
    out(`ingest is unreachable at ${INGEST_URL}: is the pipeline running? npm start`);
    return 1;
  }
  let klaviyoReachable = true;
  try {
    await getJson(`${KLAVIYO_URL}/__emulator/stats`);
  } catch {
    klaviyoReachable = false;
  }

  const { admin, team, fromEmulator } = await intercomDirectory();
  const tag = (email: string) => email.replace('@', `+${run}@`);
  const ada = makeContact({
    id: randomBytes(12).toString('hex'),
    role: 'user',
    name: 'Ada Lovelace',
    email: tag('ada.lovelace@example.com'),
    phone: '+447911123456',
    externalId: `cust-${run}-ada`,
    createdAt: dayStart,
    customAttributes: { plan: 'pro', seats: 12 },
    location: { country: 'United Kingdom', region: 'England', city: 'London' },
  });
  const graceLead = makeContact({
    id: randomBytes(12).toString('hex'),
    role: 'lead',
    name: 'Grace Hopper',
    email: tag('grace.hopper@example.com'),
    phone: '+14155550123',
    externalId: null,
    createdAt: dayStart + 600,
    customAttributes: { plan: 'trial' },
    location: { country: 'United States', region: 'California', city: 'San Francisco' },
  });
  const grace: IntercomContact = {
    ...structuredClone(graceLead),
    role: 'user',
    external_id: `cust-${run}-grace`,
    signed_up_at: dayStart + 1000,
    updated_at: dayStart + 1000,
    custom_attributes: { plan: 'starter' },
  };
  const alan = makeContact({
    id: randomBytes(12).toString('hex'),
    role: 'user',
    name: 'Alan Turing',
    email: tag('alan.turing@example.com'),
    phone: '+353871234567',
    externalId: `cust-${run}-alan`,
    createdAt: dayStart + 900,
    location: { country: 'Ireland', region: 'Dublin', city: 'Dublin' },
  });

  out('');
  out("1. Intercom: the day's contacts");
  for (const c of [ada, grace, alan]) {
    const ok = await registerInIntercom(c);
    out(
      `  ${ok ? 'registered' : 'NOT registered (Intercom emulator unreachable; the transformer learns them from the contact webhooks)'}  ${c.name} <${c.email}> (${c.role}, id ${c.id})`,
    );
  }
  out(
    `  support agent: ${admin.name} <${admin.email}>${team ? `, team ${team.name}` : ''}${fromEmulator ? '' : ' (not from the emulator: names will not resolve)'}`,
  );

  const seed = randomInt(1, 1_000_000);
  const conversationId = String(randomInt(100000000, 999999999));
  const ticketId = String(randomInt(10000, 99999));
  const conversation = conversationLifecycle({
    contact: ada,
    admin,
    team,
    startAt: dayStart + 1200,
    seed,
    id: conversationId,
    rating: 5,
    remark: 'Sorted in minutes, thanks!',
  });
  const ticket = ticketLifecycle({
    contact: grace,
    admin,
    team,
    startAt: dayStart + 2400,
    seed: seed + 1,
    id: ticketId,
    title: 'CSV export times out',
    description: 'The monthly export never finishes',
  });
  const [convCreated, convReplied, convRead, convRated] = conversation;
  const [tCreated, tSubmitted, tWaiting, tReplied, tResolvedState, tResolved] = ticket;
  const redelivered: IntercomNotification = { ...structuredClone(convReplied), delivery_attempts: 2, delivered_at: 0 };
  const forged: IntercomNotification = { ...structuredClone(convRated), id: `notif_forged-${run}` };

  const contactSteps: Step[] = [
    {
      label: `${ada.name} signs up`,
      notification: contactNotification('contact.user.created', ada, { createdAt: dayStart }),
      expectStatus: 200,
    },
    {
      label: `${graceLead.name} chats as a visitor (lead)`,
      notification: contactNotification('contact.lead.created', graceLead, { createdAt: dayStart + 600 }),
      expectStatus: 200,
    },
    {
      label: `${alan.name} signs up`,
      notification: contactNotification('contact.user.created', alan, { createdAt: dayStart + 900 }),
      expectStatus: 200,
    },
    {
      label: `${grace.name}, the lead, signs up`,
      notification: contactNotification('contact.lead.signed_up', grace, { createdAt: dayStart + 1000 }),
      expectStatus: 200,
    },
  ];
  const activitySteps: Step[] = [
    { label: `${ada.name} opens conversation ${conversationId}`, notification: convCreated, expectStatus: 200 },
    { label: `${ada.name} replies`, notification: convReplied, expectStatus: 200 },
    { label: `${ada.name} reads the agent's answer`, notification: convRead, expectStatus: 200 },
    { label: `${ada.name} rates it 5/5`, notification: convRated, expectStatus: 200 },
    { label: `ticket ${ticketId} for ${grace.name}`, notification: tCreated, expectStatus: 200 },
    { label: 'ticket submitted', notification: tSubmitted, expectStatus: 200 },
    { label: 'ticket waiting on the customer', notification: tWaiting, expectStatus: 200 },
    { label: `${grace.name} replies to the ticket`, notification: tReplied, expectStatus: 200 },
    { label: 'ticket resolved (state update)', notification: tResolvedState, expectStatus: 200 },
    { label: 'ticket resolved (same resolution)', notification: tResolved, expectStatus: 200 },
    {
      label: `Intercom redelivers ${convReplied.id.slice(0, 18)}… (attempt 2)`,
      notification: redelivered,
      expectStatus: 200,
    },
    {
      label: 'a forged request (wrong secret): must be refused',
      notification: forged,
      secret: `not-${SECRET}`,
      expectStatus: 401,
    },
  ];

  out('');
  out('2. Intercom webhooks -> ingest');
  let n = 0;
  for (const s of contactSteps) await step(++n, s);
  for (const s of activitySteps) await step(++n, s);
  out(
    `     (the forged request was ${problems.some((p) => p.includes('forged')) ? 'NOT refused' : 'refused with 401, as it should be: nothing of it reaches Kafka'})`,
  );

  // the deletion comes at the end of the day, once Alan's profile exists in Klaviyo (profiles and
  // deletions travel on different topics; waiting keeps the story in order)
  if (klaviyoReachable)
    await waitUntil(async () => (await profilesByEmail()).has(alan.email.toLowerCase()), {
      timeoutMs: Math.min(WAIT_MS, 30_000),
      intervalMs: 300,
    });
  const deletedAt = now - 60;
  await registerInIntercom({ ...alan }); // still there until the deletion below
  try {
    await http(`${INTERCOM_URL}/__emulator/contacts/${encodeURIComponent(alan.id)}`, { method: 'DELETE' });
  } catch {
    /* emulator unreachable: said above */
  }
  await step(n + 1, {
    label: `${alan.name} asks to be forgotten`,
    notification: contactDeletedNotification(alan, { createdAt: deletedAt }),
    expectStatus: 200,
  });

  // ------------------------------------------------------------------ what Klaviyo should hold
  const expected: Expected[] = [
    { metric: 'Conversation Created', email: ada.email, why: 'conversation.user.created' },
    {
      metric: 'Replied to Conversation',
      email: ada.email,
      why: 'conversation.user.replied (+ its redelivery: still one event)',
    },
    { metric: 'Read Conversation', email: ada.email, why: 'conversation.read' },
    { metric: 'Conversation Rated', email: ada.email, why: 'conversation.rating.added' },
    { metric: 'Ticket Created', email: grace.email, why: 'ticket.created' },
    { metric: 'Ticket Submitted', email: grace.email, why: 'ticket.state.updated -> submitted' },
    { metric: 'Ticket Marked as Waiting', email: grace.email, why: 'ticket.state.updated -> waiting_on_customer' },
    { metric: 'Replied to Ticket', email: grace.email, why: 'ticket.contact.replied' },
    {
      metric: 'Ticket Resolved',
      email: grace.email,
      why: 'ticket.state.updated -> resolved + ticket.resolved: one event',
    },
  ];

  out('');
  if (!klaviyoReachable) {
    out(
      `3. Klaviyo emulator unreachable at ${KLAVIYO_URL}: cannot check delivery (is the pipeline running with the emulator? npm start without KLAVIYO_API_KEY)`,
    );
    return 1;
  }
  out(`3. waiting (up to ${WAIT_MS / 1000} s) for Klaviyo to hold the day's events, profiles and the deletion ...`);
  const t0 = Date.now();
  const check = async () => {
    const missing: string[] = [];
    const extra: string[] = [];
    const events = await getJson<{ data: Array<{ metric: string; profile: { email: string | null } }> }>(
      `${KLAVIYO_URL}/__emulator/events?limit=100000`,
    );
    const mine = events.data.filter(
      (e) => e.profile.email && [ada.email, grace.email, alan.email].includes(e.profile.email),
    );
    for (const x of expected) {
      const count = mine.filter((e) => e.metric === x.metric && e.profile.email === x.email).length;
      if (count === 0) missing.push(`event "${x.metric}" for ${x.email} (${x.why})`);
      if (count > 1) extra.push(`event "${x.metric}" for ${x.email} ${count} times (expected once: ${x.why})`);
    }
    const profiles = await profilesByEmail();
    for (const c of [ada, grace]) if (!profiles.has(c.email.toLowerCase())) missing.push(`profile ${c.email}`);
    const graceProfile = profiles.get(grace.email.toLowerCase());
    if (graceProfile && graceProfile.properties['Contact Role'] !== 'user')
      missing.push(
        `profile ${grace.email} with Contact Role "user" after signing up (has "${String(graceProfile.properties['Contact Role'])}")`,
      );
    if (profiles.has(alan.email.toLowerCase())) missing.push(`profile ${alan.email} gone after the deletion request`);
    const deletions = await getJson<{ data: Array<{ identifier: { email?: string; phone_number?: string } }> }>(
      `${KLAVIYO_URL}/__emulator/deletions`,
    );
    if (!deletions.data.some((d) => d.identifier.email === alan.email || d.identifier.phone_number === alan.phone))
      missing.push(`deletion request for ${alan.email}`);
    return { missing, extra };
  };
  let result = await check();
  while ((result.missing.length > 0 || result.extra.length > 0) && Date.now() - t0 < WAIT_MS) {
    await sleep(500);
    result = await check();
  }
  const waited = ((Date.now() - t0) / 1000).toFixed(1);
  const allArrived = result.missing.length === 0 && result.extra.length === 0;
  out(`   ${allArrived ? `everything arrived after ${waited} s` : `gave up after ${waited} s`}`);

  await printKlaviyo([ada.email, grace.email, alan.email]);

  out('');
  if (allArrived && problems.length === 0) {
    out(
      'OK: every expected event, profile and deletion is in Klaviyo; the redelivery made no duplicate; the forged webhook was refused.',
    );
    return 0;
  }
  out('NOT OK:');
  for (const p of problems) out(`  - ${p}`);
  for (const m of result.missing) out(`  - missing: ${m}`);
  for (const x of result.extra) out(`  - duplicate: ${x}`);
  return 1;
}

interface EmuProfile {
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  attributes: {
    readonly first_name?: string;
    readonly last_name?: string;
    readonly location?: { readonly city?: string; readonly country?: string };
    readonly [attribute: string]: unknown;
  };
  properties: Record<string, unknown>;
}

async function profilesByEmail(): Promise<Map<string, EmuProfile>> {
  const p = await getJson<{ data: EmuProfile[] }>(`${KLAVIYO_URL}/__emulator/profiles`);
  return new Map(p.data.filter((x) => x.email).map((x) => [x.email!.toLowerCase(), x]));
}

/** What Klaviyo holds, as its Metrics and Profiles pages would show it. */
async function printKlaviyo(demoEmails: string[]): Promise<void> {
  const metrics = await getJson<{ data: Array<{ name: string; count: number }> }>(`${KLAVIYO_URL}/__emulator/metrics`);
  const events = await getJson<{
    data: Array<{ metric: string; profile: { email: string | null }; time: string; unique_id: string }>;
  }>(`${KLAVIYO_URL}/__emulator/events?limit=100000`);
  const mine = events.data.filter((e) => e.profile.email && demoEmails.includes(e.profile.email));
  out('');
  out(`Klaviyo > Analytics > Metrics (${KLAVIYO_URL})`);
  out(`  ${'metric'.padEnd(28)} ${'all'.padStart(6)} ${'this run'.padStart(9)}`);
  for (const m of [...metrics.data].sort((a, b) => a.name.localeCompare(b.name))) {
    out(
      `  ${m.name.padEnd(28)} ${String(m.count).padStart(6)} ${String(mine.filter((e) => e.metric === m.name).length).padStart(9)}`,
    );
  }
  if (metrics.data.length === 0) out('  (no metrics yet)');

  out('');
  out('Klaviyo > Audience > Profiles (this run)');
  const profiles = await getJson<{ total: number; data: EmuProfile[] }>(`${KLAVIYO_URL}/__emulator/profiles`);
  const ours = profiles.data.filter((p) => p.email && demoEmails.includes(p.email));
  for (const p of ours) {
    const a = p.attributes ?? {};
    const name = [a.first_name, a.last_name].filter(Boolean).join(' ');
    const loc = a.location ? [a.location.city, a.location.country].filter(Boolean).join(', ') : '';
    out(`  ${String(p.email).padEnd(40)} ${String(p.phone_number ?? '-').padEnd(15)} ${name.padEnd(16)} ${loc}`);
    const props = p.properties ?? {};
    const show = [
      'Intercom Contact ID',
      'Contact Role',
      'Intercom_custom_attributes',
      'Intercom_unsubscribed_from_emails',
    ].filter((k) => k in props);
    out(`      ${show.map((k) => `${k}: ${JSON.stringify(props[k])}`).join('  ')}`);
    const evs = mine.filter((e) => e.profile.email === p.email).sort((x, y) => x.time.localeCompare(y.time));
    for (const e of evs) out(`      ${e.time}  ${e.metric.padEnd(26)} ${e.unique_id}`);
  }
  if (ours.length === 0) out('  (none)');
  out(`  (${profiles.total} profile(s) in the emulator in all)`);

  out('');
  out('Klaviyo > Data privacy > Deletion requests');
  const deletions = await getJson<{
    data: Array<{ at: string; identifier: Record<string, string>; deletedProfileIds: string[]; deletedEvents: number }>;
  }>(`${KLAVIYO_URL}/__emulator/deletions`);
  for (const d of deletions.data) {
    out(
      `  ${d.at}  ${JSON.stringify(d.identifier).padEnd(50)} profiles deleted: ${d.deletedProfileIds.length}, events deleted: ${d.deletedEvents}`,
    );
  }
  if (deletions.data.length === 0) out('  (none)');
}

main()
  .then((code) => process.exit(code))
  .catch((e) => {
    if (e instanceof Unreachable) {
      process.stderr.write(`demo: ${e.message}: is the pipeline running? npm start\n`);
    } else {
      process.stderr.write(`demo: ${(e as Error).stack ?? String(e)}\n`);
    }
    process.exit(1);
  });
