/**
 * Every activity heartbeats every couple of seconds while it runs (activities/keep-alive.ts), so
 * a worker that dies mid-activity is noticed within this and the activity retried on another
 * worker, instead of after its startToCloseTimeout (minutes). Generous enough that a busy event
 * loop on a loaded machine is not mistaken for a dead worker.
 */
export const HEARTBEAT_TIMEOUT = '15 seconds';
