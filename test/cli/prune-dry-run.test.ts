/**
 * `sagaflow prune --dry-run` lists what `prune` deletes, and nothing else: a settled run another
 * process has just taken over to redrive or compensate (it holds the run's lease, and has yet to
 * append) is kept by `store.prune`, so the dry run must not list it either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, NonRetryableError } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite-store.js';
import { cli } from './support/cli-in-process.js';

let work: string;
let store: string;

const shipping = defineSaga({ name: 'shipping', input: z.object({}), onFailure: 'pause' })
  .stage('reserve', { execute: () => 'reserved', compensate: () => undefined })
  .stage('ship', {
    execute: () => {
      throw new NonRetryableError('the carrier refuses the parcel');
    },
  })
  .build();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sagaflow-prune-dry-'));
  const path = join(work, 'runs.db');
  store = `sqlite:${path}`;
  const sqlite = new SqliteStore({ path });
  try {
    const orchestrator = createOrchestrator({ store: sqlite });
    for (const runId of ['left-paused', 'being-redriven']) expect((await orchestrator.start(shipping, {}, { runId }).outcome).status).toBe('paused');
    await orchestrator.close();
    // Another process takes 'being-redriven' over to redrive it, and has not appended yet.
    const taken = await sqlite.acquire({ runId: 'being-redriven', owner: 'redriver', leaseMs: 600_000 });
    expect(taken.acquired).toBe(true);
  } finally {
    await sqlite.close();
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('sagaflow prune --dry-run', () => {
  it('does not list a settled run under a live lease, which prune keeps; it lists exactly what prune then deletes', async () => {
    const dry = await cli('prune', '--older-than', '0s', '--status', 'paused', '--dry-run', '--store', store, '--json');
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const listed = dry.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { runId: string }).runId);
    expect(listed).toEqual(['left-paused']);
    const pruned = await cli('prune', '--older-than', '0s', '--status', 'paused', '--store', store, '--json');
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ pruned: listed.length });
  });
});
