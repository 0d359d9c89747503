/** The store the CLI uses when neither `--store` nor `SAGAFLOW_STORE` names one. */
export const DEFAULT_STORE_URL = 'sqlite:.sagaflow/sagaflow.db';
