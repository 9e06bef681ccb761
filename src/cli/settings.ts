import { temporalEnv } from '../env';

/** Settings every command reads from the environment (docs/configuration.md, "Environment variables"). */
export interface CliSettings {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
}

export function cliSettings(env?: NodeJS.ProcessEnv): CliSettings {
  const { address, namespace, taskQueue } = temporalEnv(env);
  return { temporalAddress: address, namespace, taskQueue };
}
