import { filter, firstValueFrom } from 'rxjs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, StoreUnavailableError, type Orchestrator, type SagaOutcome } from 'sagaflow';
import { createInspector, type Inspector } from 'sagaflow/inspector';
import { SqliteStore } from 'sagaflow/sqlite';
import { deferred } from '../support/deferred.js';
import { tempDatabase, type TempDatabase } from '../stores/sqlite-temp.js';
import { chromiumForTests, launchBrowser, serve } from './browser.js';
import { gates, HOSTILE, hostile, ledger, outage, pausing, prototypeNames, slow, trip } from './sagas.js';

// What the functions run in the page (page.evaluate) use of the DOM: the project's types are Node's.
interface PageElement {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly parentElement: PageElement | null;
  readonly id: string;
  readonly content?: string;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  closest(selector: string): PageElement | null;
  getClientRects(): { readonly length: number };
  blur(): void;
}
declare const document: {
  readonly activeElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare const window: Record<string, unknown>;

const hasBrowser = chromiumForTests();
const SAGAS = [trip, ledger, slow, pausing, hostile, prototypeNames];

describe.skipIf(!hasBrowser)('the inspector in a real browser (headless Chromium, SQLite store)', () => {
  let db: TempDatabase;
  let store: SqliteStore;
  let orchestrator: Orchestrator;
  let inspector: Inspector;
  let readOnlyInspector: Inspector;
  let site: Awaited<ReturnType<typeof serve>>;
  let readOnlySite: Awaited<ReturnType<typeof serve>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const pageErrors: string[] = [];
  let ledgerRuns: string[];
  let tripRun: SagaOutcome;
  let pausedRun: SagaOutcome;
  let keptPausedRun: SagaOutcome;
  let hostileRun: SagaOutcome;

  beforeAll(async () => {
    db = tempDatabase();
    store = new SqliteStore({ path: db.path, durability: 'normal' });
    orchestrator = createOrchestrator({ store, sagas: SAGAS });
    ledgerRuns = (await Promise.all(Array.from({ length: 55 }, (_, n) => orchestrator.start(ledger, { n }).outcome))).map((outcome) => outcome.runId);
    tripRun = await orchestrator.start(trip, { traveller: 'ada' }).outcome;
    pausedRun = await orchestrator.start(pausing, { order: 'o-1' }).outcome;
    keptPausedRun = await orchestrator.start(pausing, { order: 'o-2' }).outcome;
    hostileRun = await orchestrator.start(hostile, { note: '<b>bold</b>' }).outcome;
    inspector = createInspector({ store, sagas: SAGAS });
    readOnlyInspector = createInspector({ store, readOnly: true });
    site = await serve(inspector);
    readOnlySite = await serve(readOnlyInspector);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await readOnlySite?.close();
    await inspector?.close();
    await readOnlyInspector?.close();
    await orchestrator?.close();
    await store?.close();
    await db?.remove();
  });

  const runIdsShown = (): Promise<string[]> => page.locator('table.runs a.run-id').allTextContents();
  const openRun = async (runId: string, base = site.url): Promise<void> => {
    await page.goto(`${base}run?id=${encodeURIComponent(runId)}`);
    await page.locator('#status:not(:text("loading"))').waitFor();
  };

  it('lists runs newest first with counts per status, filters them by status, saga and run id, and pages both ways', async () => {
    const newestFirst = [hostileRun.runId, keptPausedRun.runId, pausedRun.runId, tripRun.runId, ...[...ledgerRuns].reverse()];
    await page.goto(site.url);
    expect(await runIdsShown()).toEqual(newestFirst.slice(0, 50));
    expect(await page.locator('.chip.all strong').textContent()).toBe('59');
    expect(await page.locator('.chip.completed strong').textContent()).toBe('55');
    expect(await page.locator('.chip.paused strong').textContent()).toBe('2');

    await page.getByRole('link', { name: 'Older →' }).click();
    expect(await runIdsShown()).toEqual(newestFirst.slice(50));
    await page.getByRole('link', { name: '← Newer' }).click();
    expect(await runIdsShown()).toEqual(newestFirst.slice(0, 50));

    await page.locator('select[name="status"]').selectOption('compensated');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(new Set(await runIdsShown())).toEqual(new Set([tripRun.runId, hostileRun.runId]));
    expect(await page.locator('table.runs .badge').allTextContents()).toEqual(['compensated', 'compensated']);

    await page.locator('select[name="status"]').selectOption('');
    await page.getByLabel('Saga').fill('ledger');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await runIdsShown()).toEqual([...ledgerRuns].reverse().slice(0, 50));
    expect(await page.locator('.chip.all').textContent()).toContain('all runs of ledger');
    await page.getByRole('link', { name: 'Older →' }).click();
    expect(await runIdsShown()).toEqual([...ledgerRuns].reverse().slice(50));

    await page.goto(site.url);
    await page.getByLabel('Run id').fill(pausedRun.runId.slice(0, 30));
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await runIdsShown()).toEqual([pausedRun.runId]);
    await page.getByRole('link', { name: pausedRun.runId }).click();
    await page.locator('#status.paused').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shows a compensated fan-out run: its failed stage marked, its compensations numbered in reverse completion order, every branch’s output', async () => {
    expect(tripRun.status).toBe('compensated');
    // Sequential rollback: the reverse of the order the stages completed in, parallel branches included.
    expect(tripRun.compensationOrder).toEqual([...tripRun.completionOrder].reverse());
    await openRun(tripRun.runId);
    expect(await page.locator('#status').textContent()).toBe('compensated');
    await expect.poll(() => page.locator('.node.failing').getAttribute('data-stage')).toBe('confirm');
    expect(await page.locator('.node[data-stage="confirm"]').getAttribute('class')).toContain('failed');
    expect(await page.locator('.node[data-stage="confirm"] text.status').textContent()).toContain('✖ failed');
    const steps = await page.locator('.step').evaluateAll((badges) =>
      badges.map((badge) => [Number(badge.textContent), badge.getAttribute('data-stage')] as const).sort((a, b) => a[0] - b[0]),
    );
    expect(steps).toEqual(tripRun.compensationOrder.map((stage, index) => [index + 1, stage]));
    expect(await page.locator('.rollback-path').count()).toBe(tripRun.compensationOrder.length - 1);
    for (const stage of ['reserve', 'flight', 'hotel', 'car']) expect(await page.locator(`.node[data-stage="${stage}"]`).getAttribute('class')).toContain('compensated');
    expect(await page.locator('#outcome').textContent()).toContain('Failed at stage confirm');
    expect(await page.locator('#outcome').textContent()).toContain('no seats left on SF-101');
    expect(await page.locator('#outputs .disclosure').evaluateAll((items) => items.map((item) => item.getAttribute('data-stage')))).toEqual(tripRun.completionOrder);
    expect(await page.locator('#outputs').textContent()).toContain('"hotel": "Grand"');
    // The timeline: five execute attempts, four compensations, the rollback's start and the end.
    expect(await page.locator('.bar.execute').count()).toBe(5);
    expect(await page.locator('.bar.compensate.completed').count()).toBe(4);
    expect(await page.locator('.mark.rollback').count()).toBe(1);
    const journal = (await store.load(tripRun.runId)) ?? [];
    expect(await page.locator('#journal > li').count()).toBe(journal.length);
    await page.locator('#journal > li').nth(2).locator('.disclose').click();
    expect(JSON.parse((await page.locator('#journal > li').nth(2).locator('pre').textContent()) ?? '')).toEqual(journal[2]);
    expect(pageErrors).toEqual([]);
  });

  it('updates a live run as its events arrive, over one event stream, without reloading or polling', async () => {
    const gate = deferred<string>();
    gates.set('live', gate);
    const handle = orchestrator.start(slow, { gate: 'live' });
    await firstValueFrom(handle.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'wait')));
    await openRun(handle.runId);
    await page.locator('.node.running[data-stage="wait"]').waitFor();
    expect(await page.locator('#live').textContent()).toContain('live');
    await page.evaluate(() => (window['stillThisPage'] = true));
    const requests: string[] = [];
    const onRequest = (request: { url(): string }): void => void requests.push(request.url());
    page.on('request', onRequest);

    gate.resolve('opened');
    const outcome = await handle.outcome;
    expect(outcome.status).toBe('completed');
    await page.locator('#status.completed').waitFor({ timeout: 5_000 });
    page.off('request', onRequest);
    expect(await page.locator('.node.completed').count()).toBe(3);
    expect(await page.locator('#journal > li').count()).toBe(((await store.load(handle.runId)) ?? []).length);
    expect(await page.locator('#outputs').textContent()).toContain('opened');
    expect(await page.evaluate(() => window['stillThisPage'])).toBe(true);
    // Everything after the first paint came down the open event stream: not one request more.
    expect(requests).toEqual([]);
    expect(await page.locator('#live').textContent()).toBe('not live');
    expect(pageErrors).toEqual([]);
  });

  it('redrives a paused run after a confirmation, and a read-only inspector refuses to', async () => {
    await openRun(keptPausedRun.runId, readOnlySite.url);
    expect(await page.locator('.actions button:enabled').count()).toBe(0);
    expect(await page.locator('#action-note').textContent()).toContain('Read-only');
    const refused = await page.evaluate(async (runId) => {
      const csrf = document.querySelector('meta[name="sagaflow-csrf"]')?.getAttribute('content') ?? '';
      const response = await fetch('api/action', { method: 'POST', headers: { 'content-type': 'application/json', 'x-sagaflow-csrf': csrf }, body: JSON.stringify({ action: 'redrive', runId }) });
      return { status: response.status, body: (await response.json()) as { message: string } };
    }, keptPausedRun.runId);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('read-only');
    expect((await orchestrator.inspect(keptPausedRun.runId)).status).toBe('paused');

    await openRun(pausedRun.runId);
    const events = (await store.load(pausedRun.runId))?.length;
    await page.getByRole('button', { name: 'Redrive' }).click();
    await expect.poll(() => page.locator('#confirm').getAttribute('open')).toBe('');
    expect(await page.locator('#confirm-title').textContent()).toBe('Redrive this run?');
    await page.locator('#confirm-back').click();
    expect(await page.locator('#confirm').getAttribute('open')).toBeNull();
    expect((await store.load(pausedRun.runId))?.length).toBe(events);

    outage.charge = false;
    await page.getByRole('button', { name: 'Redrive' }).click();
    await page.locator('#confirm-go').click();
    await page.locator('#status.completed').waitFor({ timeout: 10_000 });
    expect(await page.locator('#action-note').textContent()).toBe('Redrive started.');
    expect(await page.locator('.node[data-stage="charge"]').getAttribute('class')).toContain('completed');
    expect((await orchestrator.inspect(pausedRun.runId)).status).toBe('completed');
    expect(await page.locator('.actions button:enabled').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('cancels a run another process drives, with the reason asked for, and draws the cancel on the timeline', async () => {
    // Another process owns the run: the inspector records a request that the owner's next heartbeat carries out.
    const owner = createOrchestrator({ store, sagas: SAGAS, leaseMs: 1_500 });
    gates.set('cancel', deferred<string>());
    const handle = owner.start(slow, { gate: 'cancel' });
    await firstValueFrom(handle.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'wait')));
    await openRun(handle.runId);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('#reason').fill('the customer changed their mind');
    await page.locator('#confirm-go').click();
    await page.locator('#status.cancelled').waitFor({ timeout: 10_000 });
    expect(await page.locator('#action-note').textContent()).toBe('Cancel requested: the run stops, settling its stages first.');
    const outcome = await handle.outcome;
    expect(outcome).toMatchObject({ status: 'cancelled', cancellation: { reason: 'the customer changed their mind', by: 'external' }, compensationOrder: ['prepare'] });
    expect(await page.locator('.mark.cancel').textContent()).toBe('cancel: the customer changed their mind');
    expect(await page.locator('#outcome').textContent()).toContain('the customer changed their mind');
    expect(await page.locator('.node[data-stage="wait"]').getAttribute('class')).toContain('cancelled');
    expect(await page.locator('.step').allTextContents()).toEqual(['1']);
    await owner.close();
    expect(pageErrors).toEqual([]);
  });

  it('follows a paused run through a redrive made by another process, and says so while the store does not answer', async () => {
    // The same SQLite file, read through a store whose reads fail while `down` is set (a database restart).
    const down = { on: false };
    const flaky = new Proxy(store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown =>
          down.on && (property === 'listRuns' || property === 'load')
            ? Promise.reject(new StoreUnavailableError(target.description, 'the database is restarting'))
            : (value as (...all: unknown[]) => unknown).apply(target, args);
      },
    });
    const watching = createInspector({ store: flaky, sagas: SAGAS });
    const watchingSite = await serve(watching);
    outage.charge = true;
    const paused = await orchestrator.start(pausing, { order: 'o-3' }).outcome;
    try {
      await openRun(paused.runId, watchingSite.url);
      await page.locator('#status.paused').waitFor();
      expect(await page.locator('#live').textContent()).toContain('following');

      down.on = true;
      await page.locator('#store-state:not([hidden])').waitFor({ timeout: 5_000 });
      expect(await page.locator('#store-state').textContent()).toBe(
        `The store is unavailable, retrying every 250 ms: The saga store ${store.description} is unavailable: the database is restarting.`,
      );
      down.on = false;
      await page.locator('#store-state').waitFor({ state: 'hidden', timeout: 5_000 });

      // Another process redrives it: the page, still open, follows.
      outage.charge = false;
      const other = createOrchestrator({ store, sagas: SAGAS });
      expect((await other.redrive(paused.runId).outcome).status).toBe('completed');
      await other.close();
      await page.locator('#status.completed').waitFor({ timeout: 10_000 });
      expect(await page.locator('#journal > li').count()).toBe(((await store.load(paused.runId)) ?? []).length);
      expect(await page.locator('.node[data-stage="charge"]').getAttribute('class')).toContain('completed');
      expect(await page.locator('#outputs').textContent()).toContain('1250');
      expect(await page.locator('#live').textContent()).toBe('not live');
      expect(pageErrors).toEqual([]);
    } finally {
      down.on = false;
      await watchingSite.close();
      await watching.close();
    }
  });

  it('shows markup from the journal as text and never runs it', async () => {
    expect(hostileRun.status).toBe('compensated');
    await openRun(hostileRun.runId);
    // Shown as the JSON it is: the markup's quotes escaped, its tags as they were.
    await expect.poll(() => page.locator('#outputs').textContent()).toContain(JSON.stringify(HOSTILE));
    expect(await page.locator('#input').textContent()).toContain('<b>bold</b>');
    expect(await page.locator('#outcome').textContent()).toContain(`bad template ${HOSTILE}`);
    await page.locator('.node[data-stage="render"]').click();
    expect(await page.locator('#stage').textContent()).toContain(JSON.stringify(HOSTILE));
    await page.locator('#journal .disclose', { hasText: 'stage.completed' }).click();
    expect(await page.locator('#journal pre').first().textContent()).toContain('onerror=\\"window.__pwned = 2\\"');
    const dom = await page.evaluate(() => ({
      pwned: window['__pwned'],
      images: [...document.querySelectorAll('img')].length,
      bold: [...document.querySelectorAll('b')].length,
      scripts: [...document.querySelectorAll('script')].map((script) => script.getAttribute('src')),
    }));
    expect(dom).toEqual({ pwned: undefined, images: 0, bold: 0, scripts: ['assets/run-page.js'] });
    expect(pageErrors).toEqual([]);
  });

  it('shows stages named like members of Object.prototype: drawn, and an output only for the one that completed', async () => {
    const prototypeNamesRun = await orchestrator.start(prototypeNames, {}).outcome;
    expect(prototypeNamesRun.status).toBe('compensated');
    await openRun(prototypeNamesRun.runId);
    await page.locator('.node[data-stage="toString"]').click();
    expect(await page.locator('#stage-title').textContent()).toBe('Stage toString');
    // The page's outputs are a plain object: 'toString' in it is true whether or not the stage completed.
    expect(await page.locator('#stage-fields dt').allTextContents()).not.toContain('output');
    await page.locator('.node[data-stage="constructor"]').click();
    expect(await page.locator('#stage-fields dt').allTextContents()).toContain('output');
    expect(await page.locator('#stage-fields').textContent()).toContain('"made": true');
    expect(pageErrors).toEqual([]);
  });

  it('reaches every control with the keyboard, and works the stages and the confirmation with it', async () => {
    await page.goto(site.url);
    expect(await unreachedByTab(page)).toEqual([]);

    await openRun(keptPausedRun.runId);
    await page.locator('#outputs .disclosure').first().waitFor();
    expect(await unreachedByTab(page)).toEqual([]);

    await page.locator('.node[data-stage="charge"]').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#stage-title').textContent()).toBe('Stage charge');
    await page.locator('.node[data-stage="reserve"]').focus();
    await page.keyboard.press(' ');
    expect(await page.locator('#stage-title').textContent()).toBe('Stage reserve');

    await page.getByRole('button', { name: 'Compensate' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('confirm-back');
    await page.keyboard.press('Escape');
    expect(await page.locator('#confirm').getAttribute('open')).toBeNull();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('action-compensate');
    expect((await orchestrator.inspect(keptPausedRun.runId)).status).toBe('paused');
    expect(pageErrors).toEqual([]);
  });
});

/**
 * Presses Tab through the page and returns the controls it never reached: every visible link,
 * enabled button, field, summary and focusable stage.
 */
async function unreachedByTab(page: Page): Promise<string[]> {
  const count = await page.evaluate(() => {
    const controls = [...document.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), summary, [tabindex="0"]')].filter(
      (element) => element.closest('[hidden], dialog:not([open])') === null && (element.tagName === 'SUMMARY' ? element.parentElement : element)?.closest('details:not([open])') === null && element.getClientRects().length > 0,
    );
    controls.forEach((element, index) => element.setAttribute('data-tab-check', String(index)));
    document.activeElement?.blur();
    return controls.length;
  });
  const reached = new Set<string>();
  for (let press = 0; press < count + 5; press++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement?.getAttribute('data-tab-check'));
    if (id !== null && id !== undefined) reached.add(id);
  }
  return page.evaluate(
    (seen) =>
      [...document.querySelectorAll('[data-tab-check]')]
        .filter((element) => !seen.includes(element.getAttribute('data-tab-check') ?? ''))
        .map((element) => `${element.tagName.toLowerCase()} ${element.textContent?.trim().slice(0, 40) ?? ''}`),
    [...reached],
  );
}
