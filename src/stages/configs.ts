import { handlersConfigSchema, handlersSpec, type HandlersSpec } from './handlers/config';
import { streamConfigSchema, streamSpec, type StreamConfig, type StreamSpec } from './stream/config';

/**
 * Every stage's section of the config file (config/schema.ts spreads it) and of the spec: the one
 * list that registers a stage's config (beside ./index.ts and ./runtimes.ts). Each is optional: a
 * stage runs when its section is there.
 */
export const stageConfigSchemas = {
  /** User handlers: derived tables from stored events (docs/handlers.md). */
  handlers: handlersConfigSchema.optional(),
  /** Every stored event to NATS JetStream (docs/stream.md). */
  stream: streamConfigSchema.optional(),
};

/** The stages' sections of the spec (workflow input). */
export interface StageSpecs {
  handlers?: HandlersSpec;
  stream?: StreamSpec;
}

/** The stages' sections of a parsed config, with what they name by path made absolute against the config file's folder. */
export function resolveStageConfigs<C extends { handlers?: string }>(config: C, configDir: string): Pick<C, 'handlers'> {
  return config.handlers === undefined ? {} : { handlers: handlersSpec(config.handlers, configDir).module };
}

/** The stages' sections of the spec, from the resolved config's. */
export function stageSpecs(config: { name: string; handlers?: string; stream?: StreamConfig }): StageSpecs {
  return {
    ...(config.handlers ? { handlers: { module: config.handlers } } : {}),
    ...(config.stream ? { stream: streamSpec(config.name, config.stream) } : {}),
  };
}
