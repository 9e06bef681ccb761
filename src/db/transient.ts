/**
 * Database errors that say nothing about the statement that met them: the connection broke, the
 * server is shutting down or out of resources, or the transaction lost a serialization race.
 * Trying again later succeeds; so a handler whose statement failed this way has not failed, and
 * its batch is retried instead of pausing the handlers stage.
 */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]$|40001$|40P01$)/;
const CONNECTION_LOST = /Connection terminated|not queryable|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/i;

/** An error the server sent (it has a severity and a SQLSTATE), as opposed to one raised on our side (EPIPE, a value pg could not serialise …). */
export function isServerError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && 'severity' in error && typeof (error as { code?: unknown }).code === 'string';
}

export function isTransientDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isServerError(error)) return TRANSIENT_SQLSTATE.test(error.code);
  return CONNECTION_LOST.test(`${String((error as { code?: unknown }).code ?? '')} ${error.message}`);
}
