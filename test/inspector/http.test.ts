import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, type Orchestrator, type SagaOutcome } from 'sagaflow';
import { createInspector, type Inspector } from 'sagaflow/inspector';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import type { RunUpdate } from '../../src/inspector/client/view-model.js';
import { ensureBuilt, sagaflow } from '../cli/support/cli-process.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { tempDatabase, type TempDatabase } from '../stores/sqlite-temp.js';
import { serve } from './browser.js';
import { HOSTILE, hostile, pausing, trip } from './sagas.js';

const TOKEN = 'a-token-long-enough-to-be-safe';

/** The messages of a finished event stream, and how it ended. */
async function readStream(url: string): Promise<{ updates: RunUpdate[]; ending: string }> {
  const text = await (await fetch(url)).text();
  const updates: RunUpdate[] = [];
  let ending = '';
  for (const block of text.split('\n\n')) {
    const event = /^event: (\w+)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (data === undefined) continue;
    if (event === undefined) updates.push(JSON.parse(data) as RunUpdate);
    else ending = `${event} ${data}`;
  }
  return { updates, ending };
}

/** A page session's credentials for actions: its cookie, its token and its origin. */
async function actionSession(siteUrl: string, runId: string): Promise<(body: string) => Promise<Response>> {
  const page = await fetch(`${siteUrl}run?id=${runId}`);
  const cookie = (page.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  const csrf = /name="sagaflow-csrf" content="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const headers = { 'content-type': 'application/json', cookie, 'x-sagaflow-csrf': csrf, origin: new URL(siteUrl).origin };
  return (body) => fetch(`${siteUrl}api/action`, { method: 'POST', headers, body });
}

describe('the inspector over HTTP: who gets in, which actions pass, what the stream carries', () => {
  let db: TempDatabase;
  let store: SqliteStore;
  let orchestrator: Orchestrator;
  let open: Inspector;
  let guarded: Inspector;
  let openSite: Awaited<ReturnType<typeof serve>>;
  let guardedSite: Awaited<ReturnType<typeof serve>>;
  let paused: SagaOutcome;
  let markup: SagaOutcome;

  beforeAll(async () => {
    db = tempDatabase();
    store = new SqliteStore({ path: db.path, durability: 'normal' });
    orchestrator = createOrchestrator({ store, sagas: [pausing, hostile, trip] });
    paused = await orchestrator.start(pausing, { order: 'http' }).outcome;
    markup = await orchestrator.start(hostile, { note: '<i>x</i>' }).outcome;
    open = createInspector({ store, sagas: [pausing], allowedHosts: ['127.0.0.1', 'localhost'] });
    guarded = createInspector({ store, token: TOKEN });
    openSite = await serve(open);
    guardedSite = await serve(guarded);
  });

  afterAll(async () => {
    await openSite?.close();
    await guardedSite?.close();
    await open?.close();
    await guarded?.close();
    await orchestrator?.close();
    await store?.close();
    await db?.remove();
  });

  it('with a token: nothing without it, the page once with ?token= sets a cookie (not the token), or Bearer', async () => {
    expect((await fetch(guardedSite.url)).status).toBe(401);
    expect((await fetch(`${guardedSite.url}?token=wrong`)).status).toBe(401);
    expect((await fetch(`${guardedSite.url}assets/inspector.css`)).status).toBe(401);
    const entry = await fetch(`${guardedSite.url}run?id=${paused.runId}&token=${TOKEN}`, { redirect: 'manual' });
    expect(entry.status).toBe(303);
    expect(entry.headers.get('location')).toBe(`./run?id=${paused.runId}`);
    const cookies = entry.headers.getSetCookie();
    expect(cookies.join(';')).not.toContain(TOKEN);
    expect(cookies.every((cookie) => cookie.includes('HttpOnly') && cookie.includes('SameSite=Strict'))).toBe(true);
    const cookie = cookies.map((value) => value.split(';')[0]).join('; ');
    expect((await fetch(`${guardedSite.url}run?id=${paused.runId}`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(guardedSite.url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(guardedSite.url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('answers only for the host names it was given (no DNS rebinding)', async () => {
    const port = Number(new URL(openSite.url).port);
    // fetch() will not send another Host: a plain request does, as a rebound browser would.
    const statusFor = (host: string): Promise<number | undefined> =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        })
          .on('error', reject)
          .end();
      });
    expect(await statusFor(`attacker.example:${port}`)).toBe(421);
    expect(await statusFor(`localhost:${port}`)).toBe(200);
  });

  it('refuses an oversized action request with 413 and says why, and takes the next request', async () => {
    const post = await actionSession(openSite.url, paused.runId);
    const oversized = await post(JSON.stringify({ action: 'cancel', runId: paused.runId, reason: 'x'.repeat(20_000) }));
    expect(oversized.status).toBe(413);
    expect(await oversized.json()).toEqual({
      ok: false,
      message: 'The action request is larger than 16384 bytes: send only the action, the run id and a reason of at most 500 characters.',
    });
    expect((await post('{"action":"drop"}')).status).toBe(400);
  });

  it('answers 409 with who owns the run, until when and what to do, when another live process holds its lease', async () => {
    const held = await orchestrator.start(pausing, { order: 'leased' }).outcome;
    expect(held.status).toBe('paused');
    // Another process is taking the paused run over right now (say, a redrive from the CLI).
    const taken = await store.acquire({ runId: held.runId, owner: 'billing-worker-7', leaseMs: 60_000 });
    if (!taken.acquired) throw new Error('the lease was not taken');
    const lease = await store.leaseOf(held.runId);
    const post = await actionSession(openSite.url, held.runId);
    const refused = await post(JSON.stringify({ action: 'redrive', runId: held.runId }));
    expect(refused.status).toBe(409);
    const { message } = (await refused.json()) as { message: string };
    expect(message).toBe(
      `Run ${held.runId} cannot be redriven from here right now: another live process, billing-worker-7, owns it (lease epoch ${taken.lease.epoch}) ` +
        `until ${new Date(lease?.expiresAt ?? Number.NaN).toISOString()} unless it renews its lease. This page follows the run, so what that process does shows here. ` +
        'If that process is still working on the run, let it finish or cancel the run; if it died, try again once its lease has expired.',
    );
    expect(message).not.toContain('recover()');
    await store.release(held.runId, taken.lease);
    expect((await orchestrator.inspect(held.runId)).status).toBe('paused');
  });

  it('takes an action only with the session’s token, from its own origin, as JSON', async () => {
    const page = await fetch(`${openSite.url}run?id=${paused.runId}`);
    const cookie = (page.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
    const csrf = /name="sagaflow-csrf" content="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const post = (headers: Record<string, string>, body = JSON.stringify({ action: 'compensate', runId: paused.runId })): Promise<Response> =>
      fetch(`${openSite.url}api/action`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post({ cookie })).status).toBe(403);
    expect((await post({ 'x-sagaflow-csrf': csrf })).status).toBe(403);
    expect((await post({ cookie, 'x-sagaflow-csrf': 'forged' })).status).toBe(403);
    expect((await post({ cookie, 'x-sagaflow-csrf': csrf, origin: 'http://attacker.example' })).status).toBe(403);
    expect((await post({ cookie, 'x-sagaflow-csrf': csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ cookie, 'x-sagaflow-csrf': csrf, 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post({ cookie, 'x-sagaflow-csrf': csrf }, '{"action":"drop"}')).status).toBe(400);
    expect((await orchestrator.inspect(paused.runId)).status).toBe('paused');
    // A saga the inspector was not given is refused by the library, with its sentence.
    const refused = await post({ cookie, 'x-sagaflow-csrf': csrf, origin: new URL(openSite.url).origin }, JSON.stringify({ action: 'compensate', runId: markup.runId }));
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(/compensated/);
    const accepted = await post({ cookie, 'x-sagaflow-csrf': csrf, origin: new URL(openSite.url).origin });
    expect(await accepted.json()).toEqual({ ok: true, message: 'Rollback started.' });
    expect(accepted.status).toBe(202);
    await open.orchestrator.close();
    expect((await orchestrator.inspect(paused.runId)).status).toBe('compensated');
  });

  it('streams a settled run as one message with everything, then end; an unknown run as a problem; markup stays data', async () => {
    const { updates, ending } = await readStream(`${openSite.url}api/stream?id=${markup.runId}`);
    expect(ending).toBe('end {}');
    expect(updates).toHaveLength(1);
    const [update] = updates;
    expect(update?.view.status).toBe('compensated');
    expect(update?.events).toHaveLength(((await store.load(markup.runId)) ?? []).length);
    expect(update?.outputs).toEqual({ render: { html: HOSTILE, note: '<i>x</i>' } });
    expect(update?.layout?.nodes.map((node) => node.name)).toEqual(['render', 'explode']);
    expect((await readStream(`${openSite.url}api/stream?id=nope`)).ending).toBe(`problem ${JSON.stringify({ message: 'There is no run nope in this store.' })}`);
    const page = await (await fetch(`${openSite.url}run?id=${encodeURIComponent('<b>id</b>')}`)).text();
    expect(page).toContain('&lt;b&gt;id&lt;/b&gt;');
    expect(page).not.toContain('<b>id</b>');
  });

  it('opens a run whose id has spaces at its ends, and takes an address holding NUL as naming no run: no 500, no report, no endless retry', async () => {
    const reports: Error[] = [];
    const inspector = createInspector({ store, onError: (error) => reports.push(error) });
    const site = await serve(inspector);
    try {
      const padded = await orchestrator.start(trip, { traveller: 'ann' }, { runId: ' padded ' }).outcome;
      const list = await (await fetch(site.url)).text();
      expect(list).toContain(`href="run?id=${encodeURIComponent(' padded ')}"`);
      const { updates, ending } = await readStream(`${site.url}api/stream?id=${encodeURIComponent(padded.runId)}`);
      expect(ending).toBe('end {}');
      expect(updates[0]?.view.runId).toBe(' padded ');
      // The cursor of a page that ends with it is the id as it is: the next page starts right after it.
      const older = await (await fetch(`${site.url}?before=${encodeURIComponent(' padded ')}`)).text();
      expect(older).not.toContain(`href="run?id=${encodeURIComponent(' padded ')}"`);

      expect((await readStream(`${site.url}api/stream?id=%00`)).ending).toBe(`problem ${JSON.stringify({ message: 'There is no run \u0000 in this store.' })}`);
      for (const query of ['q=%00', 'after=%00', 'before=%00', 'saga=%00']) {
        const answer = await fetch(`${site.url}?${query}`);
        expect([query, answer.status]).toEqual([query, 200]);
        if (query.startsWith('q=')) expect(await answer.text()).toContain('No runs');
      }
      expect(reports).toEqual([]);
    } finally {
      await site.close();
      await inspector.close();
    }
  });
});

const postgres = await postgresForTests();

describe.skipIf(postgres === undefined)('the inspector on PostgreSQL', () => {
  it('lists, counts and streams runs kept in PostgreSQL', async () => {
    const schema = uniqueSchema('inspector');
    const store = new PostgresStore({ connectionString: postgres ?? '', schema });
    const orchestrator = createOrchestrator({ store, sagas: [trip] });
    const inspector = createInspector({ store });
    const site = await serve(inspector);
    try {
      const outcome = await orchestrator.start(trip, { traveller: 'pg' }).outcome;
      const list = await (await fetch(site.url)).text();
      expect(list).toContain(`run?id=${outcome.runId}`);
      expect(list).toMatch(/compensated<\/span> <strong>1<\/strong>/);
      const filtered = await (await fetch(`${site.url}?saga=trip&q=${outcome.runId.slice(0, 20)}`)).text();
      expect(filtered).toContain(outcome.runId);
      const { updates, ending } = await readStream(`${site.url}api/stream?id=${outcome.runId}`);
      expect(ending).toBe('end {}');
      expect(updates.at(-1)?.view.rollbackOrder).toEqual(outcome.compensationOrder);
      expect(updates.at(-1)?.stages.find((stage) => stage.failing)?.name).toBe('confirm');
    } finally {
      await site.close();
      await inspector.close();
      await orchestrator.close();
      await store.close();
      await dropSchemas(postgres ?? '', schema);
    }
  });
});

describe('sagaflow ui', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-ui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to listen beyond this machine without a token', async () => {
    ensureBuilt();
    const result = await sagaflow(['ui', '--store', `sqlite:${join(dir, 'none.db')}`, '--host', '0.0.0.0'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --token SECRET (or set SAGAFLOW_UI_TOKEN)');
  });

  it('serves a store on 127.0.0.1 until SIGTERM', async () => {
    ensureBuilt();
    const path = join(dir, 'runs.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, sagas: [trip] });
    const outcome = await orchestrator.start(trip, { traveller: 'cli' }).outcome;
    await orchestrator.close();
    await store.close();
    let page = '';
    const result = await sagaflow(['ui', '--store', `sqlite:${path}`, '--port', '0', '--read-only'], {
      cwd: dir,
      onStdout: (chunk, child) => {
        const url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(chunk)?.[1];
        if (url === undefined) return;
        void fetch(url)
          .then(async (response) => {
            page = await response.text();
          })
          .finally(() => child.kill('SIGTERM'));
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sagaflow inspector on http:\/\/127\.0\.0\.1:\d+\/ \(sqlite:.*runs\.db, read-only\)/);
    expect(result.stdout).toContain('SIGTERM: stopping');
    expect(page).toContain(outcome.runId);
  });
});
