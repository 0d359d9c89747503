/**
 * The transfer held for approval, wired to the demo's banks (the database of `SAGAFLOW_STORE`):
 * the module to pass to `sagaflow start|signal|show --sagas` for `approved-transfer` runs.
 */
import { createApprovedTransfer } from './approved-transfer.js';
import { demoBanks } from './index.js';

/** hold → approval (signal `approval`, 15 minutes) → credit, on the demo's banks. */
export const approvedTransfer = createApprovedTransfer(demoBanks);
