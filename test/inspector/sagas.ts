import { z } from 'zod';
import { defineSaga, NonRetryableError } from 'sagaflow';
import { deferred, type Deferred } from '../support/deferred.js';

/** A fan-out: three bookings after `reserve`, joined by `confirm`, which fails: the run is rolled back. */
export const trip = defineSaga({ name: 'trip', input: z.object({ traveller: z.string() }) })
  .stage('reserve', { execute: async () => ({ reservation: 'R-1' }), compensate: async () => undefined })
  .stage('flight', { after: ['reserve'], execute: async () => ({ flight: 'SF-101' }), compensate: async () => undefined })
  .stage('hotel', { after: ['reserve'], execute: async () => ({ hotel: 'Grand' }), compensate: async () => undefined })
  .stage('car', { after: ['reserve'], execute: async () => ({ car: 'compact' }), compensate: async () => undefined })
  .stage('confirm', {
    after: ['flight', 'hotel', 'car'],
    execute: async (): Promise<{ confirmed: boolean }> => {
      throw new NonRetryableError('no seats left on SF-101');
    },
  })
  .build();

/** A quick saga, for runs to list. */
export const ledger = defineSaga({ name: 'ledger', input: z.object({ n: z.number() }) })
  .stage('post', { execute: async ({ input }) => ({ posted: input.n }) })
  .build();

/** Gates that hold `slow`'s `wait` stage until the test opens them, by run input `gate`. */
export const gates = new Map<string, Deferred<string>>();

/** A run that waits for the test: `prepare` completes, `wait` holds until its gate opens, then `finish`. */
export const slow = defineSaga({ name: 'slow', input: z.object({ gate: z.string() }) })
  .stage('prepare', { execute: async () => 'ready', compensate: async () => undefined })
  .stage('wait', {
    execute: async ({ input, signal }) => {
      const gate = gates.get(input.gate) ?? deferred<string>();
      gates.set(input.gate, gate);
      signal.addEventListener('abort', () => gate.reject(signal.reason), { once: true });
      return gate.promise;
    },
    compensate: async () => undefined,
  })
  .stage('finish', { execute: async () => 'done' })
  .build();

/** Whether `charge` of `pausing` fails (the test turns it off before redriving). */
export const outage = { charge: true };

/** Pauses when `charge` fails, for an operator to redrive or roll back. */
export const pausing = defineSaga({ name: 'pausing', input: z.object({ order: z.string() }), onFailure: 'pause' })
  .stage('reserve', { execute: async () => ({ held: 2 }), compensate: async () => undefined })
  .stage('charge', {
    execute: async () => {
      if (outage.charge) throw new NonRetryableError('the bank is down');
      return { charged: 1_250 };
    },
    compensate: async () => undefined,
  })
  .build();

/** What a hostile journal holds: markup in the input, an output and an error message. */
export const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

/** Stores markup as data everywhere it can: input, output, error. */
export const hostile = defineSaga({ name: 'hostile', input: z.object({ note: z.string() }) })
  .stage('render', { execute: async ({ input }) => ({ html: HOSTILE, note: input.note }), compensate: async () => undefined })
  .stage('explode', {
    execute: async (): Promise<void> => {
      throw new NonRetryableError(`bad template ${HOSTILE}`);
    },
  })
  .build();

/** Stages named like members of `Object.prototype`: `constructor` completes, `toString` fails (the run is rolled back). */
export const prototypeNames = defineSaga({ name: 'prototype-names', input: z.object({}) })
  .stage('constructor', { execute: async () => ({ made: true }), compensate: async () => undefined })
  .stage('toString', {
    execute: async (): Promise<string> => {
      throw new NonRetryableError('no text today');
    },
  })
  .build();
