import type { LeaseInfo } from '../index.js';

/**
 * How long a lease has left, in ms, never negative: what the store says (`remainingMs`, by its own
 * clock), or, from a store that does not say, its expiry less this machine's clock (which may be
 * off the store's by seconds).
 */
export function leaseTimeLeft(lease: LeaseInfo): number {
  return Math.max(0, lease.remainingMs ?? lease.expiresAt - Date.now());
}
