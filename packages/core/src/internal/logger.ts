/** Where a node writes what it has to say. Defaults to stderr with the node's role and id. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** How much a logger prints: each level prints its own messages and those of the levels after it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger writing `[prefix] level: message` lines to stderr at or above `level`. */
export function consoleLogger(prefix: string, level: LogLevel = 'warn'): Logger {
  const min = LEVELS[level];
  const stderr = globalThis.process?.stderr;
  const write = stderr ? (line: string) => stderr.write(`${line}\n`) : (line: string) => console.error(line);
  const at = (l: LogLevel) => (msg: string) => {
    if (LEVELS[l] >= min) write(`[${prefix}] ${l}: ${msg}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Reads PS_LOG_LEVEL (debug, info, warn, error, silent); default warn. */
export function logLevelFromEnv(
  env: Record<string, string | undefined> = globalThis.process?.env ?? {},
): LogLevel {
  const v = env.PS_LOG_LEVEL;
  return v !== undefined && v in LEVELS ? (v as LogLevel) : 'warn';
}
