/**
 * Database errors that say nothing about the statement that met them: the connection broke, the
 * server is shutting down or out of resources, or the transaction lost a serialization race.
 * Trying again later succeeds; so a handler whose statement failed this way has not failed, and
 * its batch is retried instead of pausing the handlers stage.
 */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]$|40001$|40P01$)/;
const CONNECTION_LOST = /Connection terminated|not queryable|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/i;

export function isTransientDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // The server's errors carry a severity and a SQLSTATE; the rest are the connection's (EPIPE, ECONNRESET …).
  if ('severity' in error && typeof code === 'string') return TRANSIENT_SQLSTATE.test(code);
  return CONNECTION_LOST.test(`${String(code ?? '')} ${error.message}`);
}
