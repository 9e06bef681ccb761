/**
 * Secrets (API keys in RPC URLs, database passwords) must never reach logs, workflow history or
 * status. Endpoints are shown by a label that keeps only what identifies them to an operator.
 */

/** `https://eth-mainnet.example.com/v2/KEY?x=y` → `https://eth-mainnet.example.com/…`. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    const hasSecretParts = url.username || url.password || (url.pathname && url.pathname !== '/') || url.search || url.hash;
    return `${url.protocol}//${url.host}${hasSecretParts ? '/…' : ''}`;
  } catch {
    return '<unparseable url>';
  }
}

/** Replaces every occurrence of each secret (and of its URL-decoded or -encoded form) by its label. */
export class Redactor {
  private readonly replacements: Array<[string, string]> = [];

  add(secret: string | undefined, label = '<redacted>'): this {
    if (!secret || secret.length < 4) return this;
    for (const form of new Set([secret, safeDecode(secret), encodeURIComponent(secret)])) {
      this.replacements.push([form, label]);
    }
    // Longest first, so a URL is replaced whole before any of its parts.
    this.replacements.sort((a, b) => b[0].length - a[0].length);
    return this;
  }

  /** Registers a URL: the whole URL becomes its label, and its password and path are blanked anywhere. */
  addUrl(raw: string): this {
    const label = redactUrl(raw);
    this.add(raw, label);
    try {
      const url = new URL(raw);
      if (url.password) this.add(url.password);
      if (url.pathname.length > 1) this.add(url.pathname + url.search, '/…');
      if (url.search.length > 1) this.add(url.search, '?…');
    } catch {
      // unparseable URLs are replaced whole only
    }
    return this;
  }

  redact(text: string): string {
    let out = text;
    for (const [secret, label] of this.replacements) out = out.split(secret).join(label);
    return out;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
