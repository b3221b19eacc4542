import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs (pino) to stdout. */
export function createLogger(level: string, name = 'relaymesh'): Logger {
  return pino({ name, level });
}
