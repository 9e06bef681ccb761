/** Settings every command reads from the environment (DESIGN.md, "Environment"). */
export interface CliSettings {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
}

export function cliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE || 'indexer',
  };
}
