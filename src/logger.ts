import { pino, type Logger } from 'pino';
import { inCi, logLevel } from './env';

export type { Logger };

/**
 * pino, pretty when a person watches a terminal and JSON otherwise (log shippers read it).
 * `LOG_LEVEL` sets the level. Callers redact secrets before logging: nothing here can know them all.
 */
export function createLogger(options: { name?: string; level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? logLevel();
  const pretty = options.pretty ?? (Boolean(process.stdout.isTTY) && !inCi());
  if (pretty && !options.destination) {
    return pino({
      name: options.name,
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ name: options.name, level }, (options.destination ?? process.stdout) as pino.DestinationStream);
}
