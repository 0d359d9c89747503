import { createHash } from 'node:crypto';
import { ACTIVE_RUN_STATUSES } from '../journal/outcome.js';

/**
 * A statement the pool's connections prepare once, by name. Internal to the PostgreSQL store.
 *
 * @internal
 */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * The PostgreSQL store's statements. Internal to the PostgreSQL store.
 *
 * @remarks
 * Each is one statement, so one round trip and one implicit transaction: on a busy host every
 * round trip costs the client a system call and a context switch, and those, not the database,
 * bound throughput. Being single statements also means no transaction is ever left open between
 * two of them by a client that froze, so no row lock outlives a statement (bounded by
 * `statement_timeout`).
 *
 * No statement waits on a row lock held by someone else when it writes many runs: batches and
 * heartbeats lock with `SKIP LOCKED` and report what they skipped; only a statement about one run
 * waits for its row, and `lock_timeout` bounds that wait.
 *
 * @internal
 */
export interface PostgresStatements {
  /** A batch of appends, one per run, skipping runs whose row another client holds. */
  readonly appendSkipping: NamedStatement;
  /** One append (or a retried skipped one), waiting for the run's row. */
  readonly appendWaiting: NamedStatement;
  /** A batch of new runs. */
  readonly create: NamedStatement;
  readonly claim: NamedStatement;
  /** A batch of releases, skipping rows another client holds. */
  readonly releaseSkipping: NamedStatement;
  /** One release, waiting for the run's row. */
  readonly releaseWaiting: NamedStatement;
  /** A batch of parks (a lease given back until a due time or a signal), skipping rows another client holds. */
  readonly parkSkipping: NamedStatement;
  /** One park, waiting for the run's row. */
  readonly parkWaiting: NamedStatement;
  readonly heartbeat: NamedStatement;
  readonly acquire: NamedStatement;
  readonly requestCancel: NamedStatement;
  readonly requestSignal: NamedStatement;
  readonly load: NamedStatement;
  /** A journal from a seq on (with the run's recorded length): what a takeover adds to a journal its caller has read. */
  readonly loadFrom: NamedStatement;
  readonly leaseOf: NamedStatement;
}

const ACTIVE_SQL = ACTIVE_RUN_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * Builds the statements for one schema and NOTIFY channel. Internal to the PostgreSQL store.
 *
 * @internal
 */
export function postgresStatements(t: { readonly runs: string; readonly events: string }, channel: string): PostgresStatements {
  // The runs of a batch, each looked up by its own probe of runs_pkey, in run-id order (the order
  // every statement locks in): `<source> CROSS JOIN LATERAL (… one run …) AS runs`. Written so
  // because these statements are named, so run from a cached generic plan, and a plain join of the
  // batch to runs is planned (for the batch's estimated 10 rows, with no statistics) as a hash join
  // over a sequential scan of every run: a cost that grows with the table, paid by every batch.
  // OFFSET 0 keeps the lookup a subquery of its own, planned for one run, where the index wins.
  const byRunId = (source: string, columns: string): string =>
    `(SELECT * FROM ${source} ORDER BY ${source}.run_id COLLATE "C") AS ${source}
      CROSS JOIN LATERAL (SELECT ${columns} FROM ${t.runs} AS runs WHERE runs.run_id = ${source}.run_id OFFSET 0) AS runs`;
  const notify = (kind: string, runId: string): string => `pg_notify('${channel}', json_build_object('kind', '${kind}', 'runId', ${runId})::text)`;
  // Times in epoch ms, as double precision (numeric would come back as a string).
  const epochMs = (column: string): string => `(extract(epoch FROM ${column}) * 1000)::double precision`;

  // $1…$11: one array per column (see the store's appendColumns), one element per run, at most
  // one per run. Arrays rather than one JSON document: a JSON document's strings would be
  // decoded, and PostgreSQL refuses \u0000 in text; json[] elements keep each batch of events as
  // written. Row locks are taken in run-id order so that concurrent statements cannot deadlock.
  // Each run is checked on its own by the store's rules (fencing, expected seq, a live lease owns
  // the run); the caller reports a refusal from the locked row it gets back. A lease-less append
  // ends the (expired) lease, fencing its holder out; a settled status ends the lease and the
  // cancel request. A lease-less append of an active status to a submitted run hands it back to
  // the workers: wake them. Appends to a watched run announce themselves (only those: NOTIFY
  // serializes committing transactions, a price every append should not pay).
  const append = (skipLocked: boolean): string => `
    WITH req AS (
      SELECT * FROM unnest($1::text[], $2::integer[], $3::json[], $4::integer[], $5::text[], $6::double precision[],
        $7::text[], $8::text[], $9::integer[], $10::boolean[], $11::boolean[])
        AS r(run_id, expected_seq, events, event_count, status, last_at, shape_hash, lease_owner, lease_epoch, settles, active)
    ), locked AS (
      SELECT runs.run_id, runs.status, runs.next_seq, runs.submitted, runs.lease_owner, runs.lease_epoch,
        runs.lease_expires_at > now() AS lease_live
      FROM ${byRunId('req', 'runs.*')}
      ORDER BY runs.run_id
      FOR UPDATE OF runs${skipLocked ? ' SKIP LOCKED' : ''}
    ), accepted AS (
      SELECT locked.run_id, locked.submitted, req.expected_seq, req.events, req.event_count, req.status, req.last_at,
        req.shape_hash, req.lease_owner AS writer, req.settles, req.active
      FROM locked JOIN req ON req.run_id = locked.run_id
      WHERE (CASE WHEN req.lease_owner IS NULL THEN locked.lease_owner IS NULL OR locked.lease_live IS NOT TRUE
                  ELSE locked.lease_owner = req.lease_owner AND locked.lease_epoch = req.lease_epoch END)
        AND locked.next_seq = req.expected_seq
    ), inserted AS (
      INSERT INTO ${t.events} (run_id, seq, event)
      SELECT accepted.run_id, accepted.expected_seq + position - 1, element
      FROM accepted, json_array_elements(accepted.events) WITH ORDINALITY AS batch(element, position)
      RETURNING 1
    ), updated AS (
      UPDATE ${t.runs} AS runs SET
        status = accepted.status, next_seq = accepted.expected_seq + accepted.event_count, updated_at = accepted.last_at,
        -- Only a settled run's: an active run's stays NULL, so that its appends change no indexed column.
        settled_at = CASE WHEN accepted.settles THEN accepted.last_at END,
        shape_hash = COALESCE(accepted.shape_hash, runs.shape_hash),
        lease_owner = CASE WHEN accepted.writer IS NULL OR accepted.settles THEN NULL ELSE runs.lease_owner END,
        lease_expires_at = CASE WHEN accepted.writer IS NULL OR accepted.settles THEN NULL ELSE runs.lease_expires_at END,
        cancel_reason = CASE WHEN accepted.settles THEN NULL ELSE runs.cancel_reason END,
        cancel_requested_at = CASE WHEN accepted.settles THEN NULL ELSE runs.cancel_requested_at END,
        -- A request is done with once its signal.received is journaled: heartbeats stop carrying it.
        signal_requests = CASE WHEN accepted.settles OR runs.signal_requests IS NULL THEN NULL ELSE (
          SELECT jsonb_agg(pending.value) FROM jsonb_array_elements(runs.signal_requests) AS pending
          WHERE NOT EXISTS (
            SELECT 1 FROM json_array_elements(accepted.events) AS event
            WHERE event.value->>'type' = 'signal.received' AND event.value->>'signalId' = pending.value->>'signalId'
          )
        ) END,
        wake_at = NULL
      FROM accepted WHERE runs.run_id = accepted.run_id
      RETURNING runs.run_id, accepted.submitted AND accepted.writer IS NULL AND accepted.active AS requeue,
        runs.watched_until > now() AS watched
    )
    SELECT req.run_id, locked.next_seq, locked.lease_owner, locked.lease_epoch, locked.lease_live,
      updated.run_id IS NOT NULL AS appended,
      -- A row in the statement's snapshot, unlocked, that is not in locked was skipped (looked up
      -- only for a run not locked: the rare case).
      ${skipLocked ? `CASE WHEN locked.run_id IS NULL THEN (SELECT true FROM ${t.runs} AS present WHERE present.run_id = req.run_id) IS NOT NULL ELSE false END` : 'false'} AS skipped,
      CASE WHEN updated.requeue THEN ${notify('requeued', 'req.run_id')} END AS requeued,
      CASE WHEN updated.watched THEN ${notify('appended', 'req.run_id')} END AS announced
    FROM req LEFT JOIN locked ON locked.run_id = req.run_id LEFT JOIN updated ON updated.run_id = req.run_id`;

  // For a statement that skips locked rows, about runs held by (req.owner, req.epoch): the
  // statement's snapshot, unlocked, tells a skipped row from one the owner no longer holds.
  const stillHeld = `, held AS (
      SELECT runs.run_id FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
      WHERE runs.lease_owner = req.owner AND runs.lease_epoch = req.epoch
    )`;

  // Releases, $1 runs, $2 owners, $3 epochs, in run-id order as appends lock. Releasing an
  // unfinished submitted run makes it claimable at once: wake the workers.
  const release = (skipLocked: boolean): string => `
    WITH req AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]) AS req(run_id, owner, epoch)
    ), locked AS (
      SELECT runs.run_id FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
      WHERE runs.lease_owner = req.owner AND runs.lease_epoch = req.epoch
      ORDER BY runs.run_id
      FOR UPDATE OF runs${skipLocked ? ' SKIP LOCKED' : ''}
    ), released AS (
      UPDATE ${t.runs} AS runs SET lease_owner = NULL, lease_expires_at = NULL
      FROM locked WHERE runs.run_id = locked.run_id
      RETURNING runs.run_id, runs.submitted AND runs.status IN (${ACTIVE_SQL}) AS requeued
    )${skipLocked ? stillHeld : ''}
    SELECT req.run_id,
      ${skipLocked ? 'held.run_id IS NOT NULL AND released.run_id IS NULL' : 'false'} AS skipped,
      CASE WHEN released.requeued THEN ${notify('requeued', 'req.run_id')} END AS requeued
    FROM req LEFT JOIN released ON released.run_id = req.run_id
      ${skipLocked ? 'LEFT JOIN held ON held.run_id = req.run_id' : ''}`;

  // Parks, $1 runs, $2 owners, $3 epochs, $4 delays in ms (NULL: until a signal or a cancel),
  // $5 the signal ids each owner has journaled (a JSON array per run). A parked run has no lease
  // and a wake_at: claim hands it out again once wake_at has passed; a signal or cancel request
  // clears wake_at (and wakes the workers). Requests the owner has journaled are dropped; one it
  // has not seen yet, or a pending cancel, leaves the run claimable at once instead (requeued).
  // The delay runs on the database's clock, like leases.
  const park = (skipLocked: boolean): string => `
    WITH req AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::double precision[], $5::json[]) AS req(run_id, owner, epoch, delay_ms, handled)
    ), locked AS (
      SELECT runs.run_id, runs.signal_requests, runs.cancel_reason FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
      WHERE runs.lease_owner = req.owner AND runs.lease_epoch = req.epoch
      ORDER BY runs.run_id
      FOR UPDATE OF runs${skipLocked ? ' SKIP LOCKED' : ''}
    ), remaining AS (
      SELECT locked.run_id, locked.cancel_reason, req.delay_ms,
        (SELECT jsonb_agg(pending.value) FROM jsonb_array_elements(locked.signal_requests) AS pending
          WHERE NOT EXISTS (SELECT 1 FROM json_array_elements_text(req.handled) AS done WHERE done.value = pending.value->>'signalId')) AS requests
      FROM locked JOIN req ON req.run_id = locked.run_id
    ), parked AS (
      UPDATE ${t.runs} AS runs SET lease_owner = NULL, lease_expires_at = NULL, signal_requests = remaining.requests,
        wake_at = CASE WHEN remaining.requests IS NOT NULL OR remaining.cancel_reason IS NOT NULL THEN NULL
                       WHEN remaining.delay_ms IS NULL THEN 'infinity'::timestamptz
                       ELSE now() + remaining.delay_ms * interval '1 millisecond' END
      FROM remaining WHERE runs.run_id = remaining.run_id
      RETURNING runs.run_id, runs.wake_at IS NULL AS requeued
    )${skipLocked ? stillHeld : ''}
    SELECT req.run_id, parked.run_id IS NOT NULL AS parked, parked.requeued IS TRUE AS requeued,
      ${skipLocked ? 'held.run_id IS NOT NULL AND parked.run_id IS NULL' : 'false'} AS skipped,
      CASE WHEN parked.requeued THEN ${notify('requeued', 'req.run_id')} END AS notified
    FROM req LEFT JOIN parked ON parked.run_id = req.run_id
      ${skipLocked ? 'LEFT JOIN held ON held.run_id = req.run_id' : ''}`;

  const texts: Record<keyof PostgresStatements, string> = {
    appendSkipping: append(true),
    appendWaiting: append(false),
    // One array per column, one element per new run: $1 run, $2 saga, $3 shape hash, $4 status,
    // $5 created at, $6 submitted, $7 the run.started event, $8 owner (NULL: submitted), $9 lease
    // ms. ON CONFLICT leaves an existing run alone; its status comes back (from the statement's
    // snapshot: NULL when a concurrent creator committed meanwhile) for RunAlreadyExistsError.
    create: `
      WITH req AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::double precision[], $6::boolean[], $7::json[],
          $8::text[], $9::double precision[])
          AS req(run_id, saga, shape_hash, status, created_at, submitted, event, owner, lease_ms)
      ), created AS (
        INSERT INTO ${t.runs} (run_id, saga, shape_hash, status, next_seq, created_at, updated_at, settled_at, submitted, lease_owner, lease_epoch, lease_expires_at)
        SELECT run_id, saga, shape_hash, status, 1, created_at, created_at, CASE WHEN status IN (${ACTIVE_SQL}) THEN NULL ELSE created_at END, submitted, owner,
          CASE WHEN owner IS NULL THEN 0 ELSE 1 END,
          CASE WHEN owner IS NULL THEN NULL ELSE now() + lease_ms * interval '1 millisecond' END
        FROM req ORDER BY run_id
        ON CONFLICT (run_id) DO NOTHING
        RETURNING run_id
      ), inserted AS (
        INSERT INTO ${t.events} (run_id, seq, event)
        SELECT req.run_id, 0, req.event FROM req JOIN created ON created.run_id = req.run_id
        RETURNING 1
      )
      SELECT req.run_id, created.run_id IS NOT NULL AS created,
        -- Looked up only for a run not created (the rare case), by its own probe of runs_pkey.
        CASE WHEN created.run_id IS NULL THEN (SELECT existing.status FROM ${t.runs} AS existing WHERE existing.run_id = req.run_id) END AS existing_status,
        CASE WHEN created.run_id IS NULL THEN (SELECT existing.saga FROM ${t.runs} AS existing WHERE existing.run_id = req.run_id) END AS existing_saga,
        CASE WHEN created.run_id IS NOT NULL AND req.owner IS NULL THEN ${notify('submitted', 'req.run_id')} END AS notified
      FROM req LEFT JOIN created ON created.run_id = req.run_id`,
    // $1 saga names, $2 shape hashes, $3 limit, $4 owner, $5 lease ms, $6 runs the worker drives
    // (never claimed again by it, even with their lease lapsed: its next heartbeat renews them).
    // Runs ready now first (never parked: wake_at NULL), then parked runs that are due, earliest
    // first; each from its own partial index, so that any number of parked runs costs a claim
    // nothing. A parked run has no owner, so `due` cannot hold one the worker drives.
    //
    // Named, so parsed once per connection and, after a few calls, run from a cached generic plan
    // (planning it at every call cost ~1 ms of database CPU per claim, and claims are one at a time
    // per worker). That plan is made with whatever statistics the table has then (none while
    // autovacuum is off, an empty table on a fresh schema) and kept until the next ANALYZE, so
    // every part of the text leaves the planner one sensible choice whatever it estimates:
    // - the ready runs are read per (saga, shape) pair, equality on both, so that runs_ready_idx
    //   returns them in run_id order and LIMIT stops the scan (ORDER BY run_id over ANY() lured
    //   plans into walking runs_pkey past every parked run);
    // - the pairs are passed through sub-selects, so a custom plan estimates as the generic one
    //   does and the cheaper generic plan is the one kept;
    // - the chosen ids go through an array, which the planner takes for a handful of rows, so the
    //   UPDATE probes runs_pkey instead of joining a guessed 10 % of the due runs by a sequential
    //   scan;
    // - each claimed run's journal is read by its own events_pkey range (OFFSET 0 keeps it a
    //   subquery: as a join it could become a hash join over all of events).
    // Its generic plan is checked against four states of the queue in the store's tests.
    claim: `
      WITH pair AS (
        SELECT DISTINCT * FROM unnest((SELECT $1::text[]), (SELECT $2::text[])) AS pair(saga, shape_hash)
      ), ready AS (
        SELECT pending.run_id FROM pair CROSS JOIN LATERAL (
          SELECT runs.run_id FROM ${t.runs} AS runs
          WHERE runs.saga = pair.saga AND runs.shape_hash = pair.shape_hash
            AND runs.submitted AND runs.status IN (${ACTIVE_SQL}) AND runs.wake_at IS NULL
            AND (runs.lease_expires_at IS NULL OR runs.lease_expires_at <= now())
            AND runs.run_id <> ALL($6::text[])
          ORDER BY runs.run_id
          LIMIT $3
          FOR UPDATE SKIP LOCKED
        ) AS pending
      ), due AS (
        SELECT run_id, wake_at FROM ${t.runs}
        WHERE wake_at <= now() AND submitted AND status IN (${ACTIVE_SQL}) AND lease_owner IS NULL
          AND (saga, shape_hash) IN (SELECT saga, shape_hash FROM pair)
        ORDER BY wake_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      ), candidates AS (
        SELECT picked.run_id FROM unnest(ARRAY(
          SELECT run_id FROM (SELECT run_id, 0 AS rank, NULL::timestamptz AS wake_at FROM ready UNION ALL SELECT run_id, 1, wake_at FROM due) AS both_kinds
          ORDER BY rank, wake_at, run_id
          LIMIT $3
        )) AS picked(run_id)
        LIMIT $3
      ), claimed AS (
        UPDATE ${t.runs} AS runs
        SET lease_owner = $4, lease_epoch = runs.lease_epoch + 1, lease_expires_at = now() + $5 * interval '1 millisecond', wake_at = NULL
        FROM candidates WHERE runs.run_id = candidates.run_id
        RETURNING runs.run_id, runs.lease_epoch, runs.cancel_reason, runs.signal_requests, runs.next_seq
      )
      SELECT claimed.run_id, claimed.lease_epoch, claimed.cancel_reason, claimed.signal_requests::text AS signal_requests, claimed.next_seq,
        journal.seq, journal.event::text AS body
      FROM claimed CROSS JOIN LATERAL (
        -- OFFSET 0: kept a subquery, so never flattened into a join the planner could hash.
        SELECT events.seq, events.event FROM ${t.events} AS events WHERE events.run_id = claimed.run_id OFFSET 0
      ) AS journal
      ORDER BY claimed.run_id, journal.seq`,
    releaseSkipping: release(true),
    releaseWaiting: release(false),
    parkSkipping: park(true),
    parkWaiting: park(false),
    // $1 owner, $2 runs, $3 epochs, $4 lease ms. Rows another client holds are skipped, neither
    // renewed nor lost: `held` (the statement's snapshot, unlocked) tells them from lost ones.
    heartbeat: `
      WITH req AS (
        SELECT * FROM unnest($2::text[], $3::integer[]) AS req(run_id, epoch)
      ), locked AS (
        SELECT runs.run_id FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
        WHERE runs.lease_owner = $1 AND runs.lease_epoch = req.epoch
        ORDER BY runs.run_id
        FOR UPDATE OF runs SKIP LOCKED
      ), renewed AS (
        UPDATE ${t.runs} AS runs SET lease_expires_at = now() + $4 * interval '1 millisecond'
        FROM locked WHERE runs.run_id = locked.run_id
        RETURNING runs.run_id, runs.cancel_reason, runs.signal_requests::text AS signal_requests
      ), held AS (
        SELECT runs.run_id FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
        WHERE runs.lease_owner = $1 AND runs.lease_epoch = req.epoch
      )
      SELECT DISTINCT req.run_id, renewed.run_id IS NOT NULL AS renewed, renewed.cancel_reason, renewed.signal_requests, held.run_id IS NOT NULL AS held
      FROM req LEFT JOIN renewed ON renewed.run_id = req.run_id LEFT JOIN held ON held.run_id = req.run_id`,
    // $1 run, $2 owner, $3 lease ms: takes the run when nobody holds a live lease on it.
    acquire: `
      WITH current AS (
        SELECT run_id, lease_owner, lease_epoch, lease_expires_at, lease_expires_at > now() AS live
        FROM ${t.runs} WHERE run_id = $1
        FOR UPDATE
      ), taken AS (
        UPDATE ${t.runs} AS runs
        SET lease_owner = $2, lease_epoch = runs.lease_epoch + 1, lease_expires_at = now() + $3 * interval '1 millisecond', wake_at = NULL
        FROM current WHERE runs.run_id = current.run_id AND (current.lease_owner IS NULL OR current.live IS NOT TRUE)
        RETURNING runs.lease_epoch, runs.cancel_reason, runs.signal_requests::text AS signal_requests, runs.next_seq
      )
      SELECT current.lease_owner, current.lease_epoch, current.live, ${epochMs('current.lease_expires_at')} AS expires_at,
        ${epochMs('current.lease_expires_at')} - ${epochMs('now()')} AS remaining_ms,
        taken.lease_epoch AS taken_epoch, taken.cancel_reason, taken.signal_requests, taken.next_seq
      FROM current LEFT JOIN taken ON true`,
    // $1 run, $2 reason: one statement, NOTIFY included, so no transaction stays open between the
    // UPDATE and its COMMIT. `found` tells an unknown run from a settled one (which is ignored).
    // A parked run becomes claimable at once (the workers are woken); otherwise its owner is.
    requestCancel: `
      WITH prior AS (
        SELECT run_id, wake_at IS NOT NULL AS parked FROM ${t.runs} WHERE run_id = $1 AND status IN (${ACTIVE_SQL}) FOR UPDATE
      ), updated AS (
        UPDATE ${t.runs} AS runs SET cancel_reason = COALESCE(cancel_reason, $2), cancel_requested_at = COALESCE(cancel_requested_at, now()), wake_at = NULL
        FROM prior WHERE runs.run_id = prior.run_id
        RETURNING runs.run_id, prior.parked
      )
      SELECT EXISTS (SELECT 1 FROM ${t.runs} WHERE run_id = $1) AS found,
        (SELECT CASE WHEN parked THEN ${notify('requeued', 'run_id')} ELSE ${notify('cancel_requested', 'run_id')} END FROM updated) AS notified`,
    // $1 run, $2 the request (JSON): appended to the run's pending signals unless one with its
    // signalId is pending already, with the owner woken as for a cancel request (or, for a parked
    // run, the workers), in one statement. `found` tells an unknown run from a settled one.
    requestSignal: `
      WITH prior AS (
        SELECT run_id, wake_at IS NOT NULL AS parked FROM ${t.runs} WHERE run_id = $1 AND status IN (${ACTIVE_SQL}) FOR UPDATE
      ), updated AS (
        UPDATE ${t.runs} AS runs SET wake_at = NULL, signal_requests = CASE
          WHEN runs.signal_requests @> jsonb_build_array(jsonb_build_object('signalId', $2::jsonb->'signalId')) THEN runs.signal_requests
          ELSE COALESCE(runs.signal_requests, '[]'::jsonb) || jsonb_build_array($2::jsonb) END
        FROM prior WHERE runs.run_id = prior.run_id
        RETURNING runs.run_id, prior.parked
      )
      SELECT EXISTS (SELECT 1 FROM ${t.runs} WHERE run_id = $1) AS found,
        (SELECT CASE WHEN parked THEN ${notify('requeued', 'run_id')} ELSE ${notify('cancel_requested', 'run_id')} END FROM updated) AS notified`,
    // The run's recorded length with its rows, in one snapshot; no row: no such run.
    load: `
      SELECT runs.next_seq AS recorded, events.seq, events.event::text AS body
      FROM ${t.runs} AS runs LEFT JOIN ${t.events} AS events ON events.run_id = runs.run_id
      WHERE runs.run_id = $1
      ORDER BY events.seq`,
    // The same from seq $2 on: what a takeover adds to a journal its caller has read up to there.
    loadFrom: `
      SELECT runs.next_seq AS recorded, events.seq, events.event::text AS body
      FROM ${t.runs} AS runs LEFT JOIN ${t.events} AS events ON events.run_id = runs.run_id AND events.seq >= $2
      WHERE runs.run_id = $1
      ORDER BY events.seq`,
    leaseOf: `
      SELECT lease_owner, lease_epoch, lease_expires_at > now() AS live, ${epochMs('lease_expires_at')} AS expires_at,
        ${epochMs('lease_expires_at')} - ${epochMs('now()')} AS remaining_ms
      FROM ${t.runs} WHERE run_id = $1 AND lease_owner IS NOT NULL`,
  };
  // Named, so each connection parses and plans them once rather than on every call; the name
  // carries a hash of the text because two stores on different schemas share a pool's clients.
  const named = {} as Record<keyof PostgresStatements, NamedStatement>;
  for (const [kind, text] of Object.entries(texts) as Array<[keyof PostgresStatements, string]>) {
    named[kind] = { name: `sagaflow_${kind}_${createHash('sha1').update(text).digest('hex').slice(0, 12)}`, text };
  }
  return named;
}
