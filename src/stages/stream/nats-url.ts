import { natsUrl } from '../../env';
import { InvalidConfigError } from '../../errors';
import { redactUrl } from '../../redact';

/** Where a NATS client looks when nothing is configured (the nats CLI and every client library agree). */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * `NATS_URL` (read and checked by env.ts). Worker-side, like RPC URLs: it may carry credentials,
 * so it never enters workflow input.
 */
export function envNatsUrl(): string | undefined {
  return natsUrl();
}

/** The NATS servers a worker or `indexer tail` uses: `NATS_URL`, else the config's `stream.nats.url`, else the local default. */
export function resolveNatsUrl(configUrl: string | undefined): string {
  return envNatsUrl() ?? configUrl ?? DEFAULT_NATS_URL;
}

/** The same, parsed and checked: a malformed URL is a one-line error naming where it came from. */
export function resolveNatsServers(configUrl: string | undefined): NatsServers {
  const fromEnv = envNatsUrl();
  return parseNatsUrl(fromEnv ?? configUrl ?? DEFAULT_NATS_URL, fromEnv ? 'NATS_URL' : 'stream.nats.url');
}

/** What the client connects with: servers without credentials, the credentials apart, a label safe to show. */
export interface NatsServers {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** e.g. `nats://10.0.0.5:4222`, or `nats://host:4222/…` where the URL carried credentials. */
  label: string;
  /** The URLs as given, for the worker's redactor. */
  raw: string[];
}

/**
 * Parses `nats://[user:pass@|token@]host[:port]` (several comma-separated; `tls://` too; the scheme
 * may be left out). A malformed one is an InvalidConfigError naming `where` (the field or variable).
 */
export function parseNatsUrl(text: string, where: string): NatsServers {
  const raw = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (raw.length === 0) throw new InvalidConfigError(`${where}: empty; give a NATS server URL like ${DEFAULT_NATS_URL}`);
  const parsed = raw.map((entry) => {
    // Credentials stay out of the error: whatever precedes an @ is blanked.
    const shown = `"${entry.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, '$1…@')}"`;
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `nats://${entry}`);
    } catch {
      throw new InvalidConfigError(`${where}: ${shown} is not a valid URL; expected nats://host:4222`);
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new InvalidConfigError(`${where}: ${shown} is not a NATS URL; use nats://host:4222 (or tls://)`);
    if (!url.hostname) throw new InvalidConfigError(`${where}: ${shown} names no host; expected nats://host:4222`);
    if ((url.pathname && url.pathname !== '/') || url.search || url.hash) {
      throw new InvalidConfigError(`${where}: ${shown} has a path or query; a NATS URL is nats://[user:pass@]host[:port]`);
    }
    return url;
  });
  const first = parsed[0]!;
  const user = first.username ? decodeURIComponent(first.username) : undefined;
  const pass = first.password ? decodeURIComponent(first.password) : undefined;
  return {
    servers: parsed.map((u) => `${u.protocol}//${u.host}`),
    ...(user !== undefined && pass !== undefined ? { user, pass } : user !== undefined ? { token: user } : {}),
    label: parsed.map((u) => redactUrl(u.href)).join(','),
    raw,
  };
}
