import { contract as loadContract, expectValidComponent, expectValidResponse } from './__tests__/contract.helper';
import { generateDataset } from './dataset';
import { startIntercomEmulator, type IntercomEmulator } from './emulator.server';
import { makeContact } from './factories';
import { mapNotification, staticLookups } from '@iks/mapping';

const contract = loadContract();
const TOKEN = 'test-token';
const dataset = generateDataset({ seed: 5, contacts: 333, conversations: 210, tickets: 170 });

interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
  body: any;
}

describe('Intercom emulator (HTTP)', () => {
  let emu: IntercomEmulator;

  beforeAll(async () => {
    emu = await startIntercomEmulator({ port: 0, dataset, accessToken: TOKEN });
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${emu.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        'Intercom-Version': '2.14',
        Accept: 'application/json',
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }

  /** Walks every page of a search; validates each answer against the 2.14 response schema. */
  async function searchAll(
    path: '/contacts/search' | '/conversations/search' | '/tickets/search',
    query: unknown,
    perPage: number,
  ) {
    const key = path === '/contacts/search' ? 'data' : path === '/conversations/search' ? 'conversations' : 'tickets';
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only JSON (fixture or HTTP answer) read field by field by many assertions
    const items: any[] = [];
    let startingAfter: string | undefined;
    let pages = 0;
    for (;;) {
      const res = await call('POST', path, {
        query,
        pagination: { per_page: perPage, ...(startingAfter ? { starting_after: startingAfter } : {}) },
      });
      expect(res.status).toBe(200);
      expectValidResponse(contract, 'post', path, 200, res.body);
      pages++;
      expect(res.body.pages.page).toBe(pages);
      items.push(...res.body[key]);
      startingAfter = res.body.pages.next?.starting_after;
      if (!startingAfter) return { items, pages, total: res.body.total_count, totalPages: res.body.pages.total_pages };
    }
  }

  const all = { field: 'updated_at', operator: '>', value: 0 };

  it.each([
    ['/contacts/search', 'contacts', 'contact'],
    ['/conversations/search', 'conversations', 'conversation_list_item'],
    ['/tickets/search', 'tickets', 'ticket'],
  ] as const)(
    '%s pages through every seeded object exactly once, ascending by updated_at then id',
    async (path, kind, component) => {
      const { items, pages, total, totalPages } = await searchAll(path, all, 37);
      const seeded = dataset[kind];
      expect(total).toBe(seeded.length);
      expect(pages).toBe(Math.ceil(seeded.length / 37));
      expect(totalPages).toBe(pages);
      expect(items.map((o) => o.id).sort()).toEqual(seeded.map((o) => o.id).sort());
      expect(new Set(items.map((o) => o.id)).size).toBe(items.length);
      for (let i = 1; i < items.length; i++) {
        const [a, b] = [items[i - 1], items[i]];
        expect(a.updated_at < b.updated_at || (a.updated_at === b.updated_at && a.id < b.id)).toBe(true);
      }
      for (const o of items) expectValidComponent(contract, component, o);
    },
  );

  it('filters on updated_at with > < >= <= and nested AND/OR, timestamps as numbers or strings', async () => {
    const times = dataset.tickets.map((t) => t.updated_at).sort((a, b) => a - b);
    const lo = times[40];
    const hi = times[120];
    const expectIds = (pred: (u: number) => boolean) =>
      dataset.tickets
        .filter((t) => pred(t.updated_at))
        .map((t) => t.id)
        .sort();

    const between = await searchAll(
      '/tickets/search',
      {
        operator: 'AND',
        value: [
          { field: 'updated_at', operator: '>', value: lo },
          { field: 'updated_at', operator: '<', value: String(hi) },
        ],
      },
      150,
    );
    expect(between.items.map((t) => t.id).sort()).toEqual(expectIds((u) => u > lo && u < hi));

    const inclusive = await searchAll(
      '/tickets/search',
      {
        operator: 'AND',
        value: [
          { field: 'updated_at', operator: '>=', value: lo },
          { field: 'updated_at', operator: '<=', value: hi },
        ],
      },
      150,
    );
    expect(inclusive.items.map((t) => t.id).sort()).toEqual(expectIds((u) => u >= lo && u <= hi));

    const outside = await searchAll(
      '/tickets/search',
      {
        operator: 'OR',
        value: [
          { field: 'updated_at', operator: '<', value: lo },
          { field: 'updated_at', operator: '>', value: hi },
        ],
      },
      150,
    );
    expect(outside.items.map((t) => t.id).sort()).toEqual(expectIds((u) => u < lo || u > hi));

    const contactsAfter = await searchAll('/contacts/search', { field: 'updated_at', operator: '>', value: lo }, 150);
    expect(contactsAfter.items.every((c) => c.updated_at > lo)).toBe(true);
    expect(contactsAfter.total).toBe(dataset.contacts.filter((c) => c.updated_at > lo).length);
  });

  it('rejects per_page above 150 and unknown cursors with 400 error.list', async () => {
    const big = await call('POST', '/contacts/search', { query: all, pagination: { per_page: 151 } });
    expect(big.status).toBe(400);
    expectValidComponent(contract, 'error', big.body);
    const bad = await call('POST', '/contacts/search', {
      query: all,
      pagination: { per_page: 5, starting_after: 'nope' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].code).toBe('invalid_cursor');
  });

  it('GET /contacts lists every contact once with cursor pagination', async () => {
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const res = await call('GET', `/contacts?per_page=150${after ? `&starting_after=${after}` : ''}`);
      expect(res.status).toBe(200);
      expectValidResponse(contract, 'get', '/contacts', 200, res.body);
      ids.push(...res.body.data.map((c: { id: string }) => c.id));
      after = res.body.pages.next?.starting_after;
    } while (after);
    expect(ids.sort()).toEqual(dataset.contacts.map((c) => c.id).sort());
  });

  it('GET /contacts/{id}, its subscriptions, /admins, /teams and /tags validate; an unknown contact is 404 error.list', async () => {
    const contact = dataset.contacts[3];
    const one = await call('GET', `/contacts/${contact.id}`);
    expect(one.status).toBe(200);
    expectValidResponse(contract, 'get', '/contacts/{contact_id}', 200, one.body);
    expect(one.body).toEqual(contact);

    const subs = await call('GET', `/contacts/${contact.id}/subscriptions`);
    expectValidResponse(contract, 'get', '/contacts/{contact_id}/subscriptions', 200, subs.body);
    expect(subs.body.data).toEqual(dataset.contactSubscriptions[contact.id]);

    const missing = await call('GET', '/contacts/does-not-exist');
    expect(missing.status).toBe(404);
    expectValidComponent(contract, 'error', missing.body);
    expect(missing.body).toMatchObject({ type: 'error.list', errors: [{ code: 'not_found' }] });
    const missingSubs = await call('GET', '/contacts/does-not-exist/subscriptions');
    expectValidResponse(contract, 'get', '/contacts/{contact_id}/subscriptions', 404, missingSubs.body);

    const admins = await call('GET', '/admins');
    expectValidResponse(contract, 'get', '/admins', 200, admins.body);
    expect(admins.body.admins.map((a: { id: string }) => a.id)).toEqual(dataset.admins.map((a) => a.id));
    const teams = await call('GET', '/teams');
    expectValidResponse(contract, 'get', '/teams', 200, teams.body);
    expect(teams.body.teams).toHaveLength(dataset.teams.length);
    const tags = await call('GET', '/tags');
    expectValidResponse(contract, 'get', '/tags', 200, tags.body);
    expect(tags.body.data.map((t: { name: string }) => t.name)).toEqual(dataset.tags.map((t) => t.name));
  });

  it('GET /admins/{id}, /teams/{id}, /tags/{id}, /contacts/{id}/tags and GET /conversations validate; unknown ids are 404', async () => {
    const [admin] = dataset.admins;
    const one = await call('GET', `/admins/${admin.id}`);
    expectValidResponse(contract, 'get', '/admins/{admin_id}', 200, one.body);
    expect(one.body).toEqual(admin);
    const team = await call('GET', `/teams/${dataset.teams[1].id}`);
    expectValidResponse(contract, 'get', '/teams/{team_id}', 200, team.body);
    expect(team.body.name).toBe(dataset.teams[1].name);
    const tag = await call('GET', `/tags/${dataset.tags[2].id}`);
    expectValidResponse(contract, 'get', '/tags/{tag_id}', 200, tag.body);
    expect(tag.body).toEqual({ type: 'tag', id: dataset.tags[2].id, name: dataset.tags[2].name });
    const tagged = dataset.contacts.find((c) => c.tags!.data.length > 0)!;
    const tags = await call('GET', `/contacts/${tagged.id}/tags`);
    expectValidResponse(contract, 'get', '/contacts/{contact_id}/tags', 200, tags.body);
    expect(tags.body.data.map((t: { id: string }) => t.id).sort()).toEqual(tagged.tags!.data.map((t) => t.id).sort());
    for (const path of ['/admins/0', '/teams/0', '/tags/0', '/contacts/nobody/tags']) {
      const missing = await call('GET', path);
      expect({ path, status: missing.status, code: missing.body.errors[0].code }).toEqual({
        path,
        status: 404,
        code: 'not_found',
      });
      expectValidComponent(contract, 'error', missing.body);
    }

    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await call('GET', `/conversations?per_page=50${after ? `&starting_after=${after}` : ''}`);
      expectValidResponse(contract, 'get', '/conversations', 200, page.body);
      seen.push(...page.body.conversations.map((c: { id: string }) => c.id));
      expect(page.body.conversations.every((c: object) => !('conversation_parts' in c))).toBe(true);
      after = page.body.pages.next?.starting_after;
      if (!after) break;
    }
    expect(seen.sort()).toEqual(dataset.conversations.map((c) => c.id).sort());
  });

  it('a route it does not serve is 501 error.list (not 404, which says an object is missing); a wrong method is 405', async () => {
    for (const [method, path] of [
      ['GET', '/segments'],
      ['GET', '/companies'],
      ['POST', '/messages'],
      ['GET', '/data_attributes'],
    ]) {
      const res = await call(method, path, method === 'POST' ? {} : undefined);
      expect({ path, status: res.status }).toEqual({ path, status: 501 });
      expectValidComponent(contract, 'error', res.body);
      expect(res.body.errors[0]).toEqual({
        code: 'not_implemented',
        message: `${method} ${path} is not served by the emulator`,
      });
    }
    const wrongMethod = await call('DELETE', '/admins');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body.errors[0].code).toBe('method_not_allowed');
  });

  it('answers Intercom-Version 2.11 with 2.11 tickets (ticket_state the category string), and the mapping reads them alike', async () => {
    const lookups = staticLookups(
      JSON.parse(JSON.stringify({ ...dataset, subscriptions: dataset.contactSubscriptions })),
    );
    const mapAs = (ticket: unknown) =>
      mapNotification(
        {
          notificationId: 'notif_v',
          topic: 'ticket.state.updated',
          createdAt: 1767225600,
          source: 'backfill',
          body: ticket,
        },
        lookups,
      );
    const mapped = dataset.tickets.filter((t) =>
      ['submitted', 'waiting_on_customer', 'resolved'].includes(t.ticket_state?.category ?? ''),
    );
    let events = 0;
    for (const t of mapped) {
      const v214 = await call('GET', `/tickets/${t.id}`);
      const v211 = await call('GET', `/tickets/${t.id}`, undefined, { 'Intercom-Version': '2.11' });
      expect(v211.body).toMatchObject({
        ticket_state: t.ticket_state?.category,
        ticket_state_internal_label: t.ticket_state?.internal_label,
      });
      // only ticket_state differs from 2.14 (as the 2.11 description has it)
      expect(
        contract
          .validateResponseBody('get', '/tickets/{ticket_id}', 200, v211.body)
          .errors.every((e) => e.startsWith('/ticket_state')),
      ).toBe(true);
      const {
        ticket_state: _s,
        ticket_state_internal_label: _i,
        ticket_state_external_label: _e,
        ...rest211
      } = v211.body;
      const { ticket_state: _s14, ...rest214 } = v214.body;
      expect(rest211).toEqual(rest214);
      const outcome = mapAs(v211.body);
      expect(outcome).toEqual(mapAs(v214.body));
      if (outcome.kind === 'records') events++;
    }
    expect(events).toBeGreaterThan(3); // mapped into Ticket Submitted / Marked as Waiting / Resolved, not merely pending alike
    const search = await call(
      'POST',
      '/tickets/search',
      { query: all, pagination: { per_page: 5 } },
      { 'Intercom-Version': '2.11' },
    );
    expect(search.body.tickets.every((t: { ticket_state: unknown }) => typeof t.ticket_state === 'string')).toBe(true);
  });

  it('GET /conversations/{id} (with parts) and /tickets/{id} validate', async () => {
    const conv = await call('GET', `/conversations/${dataset.conversations[4].id}`);
    expectValidResponse(contract, 'get', '/conversations/{conversation_id}', 200, conv.body);
    expect(conv.body).toEqual(dataset.conversations[4]);
    const ticket = await call('GET', `/tickets/${dataset.tickets[4].id}`);
    expectValidResponse(contract, 'get', '/tickets/{ticket_id}', 200, ticket.body);
    const missing = await call('GET', '/conversations/0');
    expectValidResponse(contract, 'get', '/conversations/{conversation_id}', 404, missing.body);
  });

  it('answers 401 error.list without a valid Bearer token', async () => {
    for (const headers of [
      { Authorization: '' },
      { Authorization: 'Bearer wrong' },
      { Authorization: `Basic ${TOKEN}` },
    ]) {
      const res = await call('GET', '/admins', undefined, headers);
      expect(res.status).toBe(401);
      expectValidResponse(contract, 'get', '/admins', 401, res.body);
      expect(res.body.errors[0]).toEqual({ code: 'unauthorized', message: 'Access Token Invalid' });
      expect(res.headers.get('x-ratelimit-limit')).not.toBeNull();
    }
  });

  it('logs requests with the Intercom-Version header and rejects a malformed version', async () => {
    await call('POST', '/tickets/search', { query: all, pagination: { per_page: 1 } });
    expect(emu.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/tickets/search',
      intercomVersion: '2.14',
      status: 200,
      body: { pagination: { per_page: 1 } },
    });
    const bad = await call('GET', '/admins', undefined, { 'Intercom-Version': 'latest-please' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].code).toBe('intercom_version_invalid');
  });

  it('mutations show up in search: an updated contact moves to the end, a deleted one is 404', async () => {
    const target = dataset.contacts[0];
    const newest = Math.max(...dataset.contacts.map((c) => c.updated_at));
    emu.updateContact(target.id, { email: 'changed@example.com' }, newest + 10);
    const after = await call('POST', '/contacts/search', {
      query: { field: 'updated_at', operator: '>', value: newest },
      pagination: { per_page: 10 },
    });
    expect(after.body.data.map((c: { id: string; email: string }) => [c.id, c.email])).toEqual([
      [target.id, 'changed@example.com'],
    ]);

    const fresh = makeContact({ id: 'new-contact-1', createdAt: newest + 20 });
    const put = await fetch(`${emu.url}/__emulator/contacts`, { method: 'PUT', body: JSON.stringify(fresh) });
    expect(put.status).toBe(200);
    expect((await call('GET', '/contacts/new-contact-1')).body).toEqual(fresh);

    emu.deleteContact(target.id);
    expect((await call('GET', `/contacts/${target.id}`)).status).toBe(404);

    await fetch(`${emu.url}/__emulator/reset`, { method: 'POST' });
    expect((await call('GET', `/contacts/${target.id}`)).body.email).toBe(target.email);
    expect((await call('GET', '/contacts/new-contact-1')).status).toBe(404);
  });

  describe('faults', () => {
    it('over HTTP: the next N answers are 429 / 503, then normal service resumes', async () => {
      const set = await fetch(`${emu.url}/__emulator/faults`, {
        method: 'POST',
        body: JSON.stringify([
          { status: 429, count: 2 },
          { status: 503, count: 1 },
        ]),
      });
      expect(set.status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await call('GET', '/teams');
        statuses.push(res.status);
        if (res.status !== 200) expectValidComponent(contract, 'error', res.body);
        if (res.status === 429) {
          expect(res.body.errors[0].code).toBe('rate_limit_exceeded');
          expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
        }
      }
      expect(statuses).toEqual([429, 429, 503, 200]);
    });

    it('programmatically: slow answers of X ms', async () => {
      emu.injectFault({ delayMs: 300, count: 1 });
      const t0 = Date.now();
      const slow = await call('GET', '/tags');
      expect(slow.status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      const t1 = Date.now();
      await call('GET', '/tags');
      expect(Date.now() - t1).toBeLessThan(250);
    });

    it('reset clears pending faults', async () => {
      emu.injectFault({ status: 500, count: 5 });
      emu.reset();
      expect((await call('GET', '/tags')).status).toBe(200);
    });
  });
});

describe('Intercom emulator rate limit', () => {
  it('sends X-RateLimit-* on every answer and 429 error.list past the limit, then recovers after the window', async () => {
    const emu = await startIntercomEmulator({
      port: 0,
      dataset: { seed: 1, contacts: 5, conversations: 2, tickets: 2 },
      rateLimit: { perWindow: 3, windowSeconds: 1 },
    });
    try {
      const get = () => fetch(`${emu.url}/admins`, { headers: { Authorization: `Bearer ${emu.accessToken}` } });
      // align to the start of a window so all four calls fall in the same one
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const answers: Response[] = [];
      for (let i = 0; i < 4; i++) answers.push(await get());
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
      for (const a of answers) {
        expect(a.headers.get('x-ratelimit-limit')).toBe('3');
        expect(Number(a.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
      }
      const limited = (await answers[3].json()) as { errors: { code: string }[] };
      expectValidComponent(contract, 'error', limited);
      expect(limited.errors[0].code).toBe('rate_limit_exceeded');
      await new Promise((r) =>
        setTimeout(r, Number(answers[3].headers.get('x-ratelimit-reset')) * 1000 - Date.now() + 20),
      );
      expect((await get()).status).toBe(200);
    } finally {
      await emu.close();
    }
  });
});
