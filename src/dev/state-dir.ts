/** Where local runs keep their state (Temporal's, anvil's, the embedded PostgreSQL's, NATS'), relative to the working directory. */
export const DEV_STATE_DIR = '.indexer';
