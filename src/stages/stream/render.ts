import type { StageRender } from '../stage';
import type { StreamStatus } from './types';

/** `status.stream` for a person (cli/render.ts). */
export const renderStream: StageRender<StreamStatus> = {
  lines(st) {
    const lines = [
      `  stream${st.paused ? ' (paused)' : ''} ${st.stream} (${st.delivery}): block ${st.checkpoint} (lag ${st.lag ?? '?'}) · ${st.published} published · ${st.retracted} retracted · ${st.publishedPerSecond} events/s`,
    ];
    if (st.lastError) lines.push(`  stream error: ${st.lastError}`);
    return lines;
  },
  fields: (st) => [`stream=${st.checkpoint}${st.paused ? '(paused)' : ''} published=${st.published} retracted=${st.retracted}`, st.lastError ? `streamError=${JSON.stringify(st.lastError)}` : ''],
};
