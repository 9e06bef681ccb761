import { Context } from '@temporalio/activity';

/** How often a running activity tells Temporal it is alive; well under every heartbeatTimeout. */
const KEEP_ALIVE_INTERVAL_MS = 2_000;

/**
 * Runs an activity's work while heartbeating on a timer; the one source of heartbeats, so
 * activity code need not heartbeat itself. Every activity is scheduled with a
 * heartbeatTimeout, so when a worker dies mid-activity (SIGKILL, OOM, a lost machine) Temporal
 * retries it elsewhere after that timeout instead of after the much longer startToCloseTimeout.
 * Hung calls are still bounded: RPC and SQL calls have their own timeouts, the activity its
 * startToCloseTimeout.
 */
export async function keepAlive<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), KEEP_ALIVE_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
