import type { StageRender } from '../stage';
import type { HandlersStatus } from './types';

/** `status.handlers` for a person (cli/render.ts). */
export const renderHandlers: StageRender<HandlersStatus> = {
  lines(h) {
    const state = h.paused ? ' (paused)' : h.rebuilding ? ' (rebuilding)' : '';
    const lines = [`  handlers${state}: block ${h.checkpoint} (lag ${h.lag}) · ${h.eventsHandled} events · ${h.eventsPerSecond} events/s`];
    if (h.lastError) lines.push(`  handlers error: ${h.lastError}`);
    return lines;
  },
  fields: (h) => [`handlers=${h.checkpoint}${h.paused ? '(paused)' : ''}`, h.lastError ? `handlersError=${JSON.stringify(h.lastError)}` : ''],
};
