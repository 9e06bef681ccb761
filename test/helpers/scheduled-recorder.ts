import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * Workflow interceptors for the replay test's own bundle: every activity the workflow schedules is
 * told to the `scheduled` sink (called during replay too), so the test can compare what today's
 * code schedules with what the recorded history holds. A nondeterminism error only catches a
 * different command or activity type; an activity scheduled with other blocks replays silently and
 * pairs a recorded result with blocks it was not computed for.
 */
export interface ScheduledSinks extends Sinks {
  scheduled: { activity(activityType: string, input: unknown): void };
}

const { scheduled } = proxySinks<ScheduledSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        scheduled.activity(input.activityType, input.args[0]);
        return next(input);
      },
    },
  ],
});
