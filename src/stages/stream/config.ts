import { z } from 'zod';
import { parseNatsUrl } from './nats-url';

/** The stream stage's section of the spec: names and delivery, never the NATS URL (worker-side, may carry credentials). */
export interface StreamSpec {
  /** Messages go to `<subject>.<chainId>.<Contract>.<Event>`. */
  subject: string;
  /** The JetStream stream, created when missing with subjects `<subject>.>`. */
  stream: string;
  /** `safe`: only events at or below the safe head (head − confirmations); `instant`: as soon as stored. */
  delivery: 'safe' | 'instant';
}

const natsUrl = z.string().superRefine((text, ctx) => {
  try {
    parseNatsUrl(text, 'url');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^url: /, '') });
  }
});

/** Config `stream` (docs/stream.md): where events are published and when. */
export const streamConfigSchema = z.strictObject({
  nats: z
    .strictObject({
      /** Worker-side (never in the spec): NATS_URL wins over it; default nats://127.0.0.1:4222. */
      url: natsUrl.optional(),
      subject: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated tokens of letters, digits, _ and - (no wildcards)').optional(),
      stream: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must hold only letters, digits, _ and - (a JetStream stream name)').max(200).optional(),
    })
    .default({}),
  delivery: z.enum(['safe', 'instant']).default('safe'),
});

export type StreamConfig = z.output<typeof streamConfigSchema>;

/** The spec's `stream` from the config's: names defaulted from the indexer's name. */
export function streamSpec(name: string, stream: StreamConfig): StreamSpec {
  return {
    subject: stream.nats.subject ?? `indexer.${name}`,
    stream: stream.nats.stream ?? `INDEXER_${name.toUpperCase()}`,
    delivery: stream.delivery,
  };
}
