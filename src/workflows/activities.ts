import { proxyActivities } from '@temporalio/workflow';
import type { IndexerActivities } from '../activities';
import { WORK_ATTEMPTS, activityOptions } from './support/activity-options';

/**
 * The indexer's own activities, as its workflows schedule them. Options are chosen per call
 * (executeWithOptions) where a call names its blocks in the Web UI. Kept apart from
 * support/activity-options.ts so the stages, which use those options, do not import the
 * indexer's activity list (which names the stages' own types).
 */
export const activities = proxyActivities<IndexerActivities>(activityOptions('1 minute', WORK_ATTEMPTS));
