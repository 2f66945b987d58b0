// Registry failures as users see them: which registry, what it said, what to do. Never a secret.

export class RegistryError extends Error {
  readonly userError = true;
  constructor(
    message: string,
    readonly registry: string,
    readonly status?: number,
    /** The distribution-spec error code (MANIFEST_UNKNOWN, DENIED, ...), when the registry sent one. */
    readonly code?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export class AuthError extends RegistryError {
  constructor(registry: string, detail: string, hint = `check your credentials: tsbuild login ${registry}`) {
    super(`authentication to ${registry} failed: ${detail}`, registry, 401, 'UNAUTHORIZED', hint);
    this.name = 'AuthError';
  }
}

/** The `errors` array of a distribution-spec error body, as one line. */
export function describeErrorBody(body: string): { code?: string; text: string } {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    const first = parsed.errors?.[0];
    if (first) {
      const text = parsed.errors!.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
      return { code: first.code, text };
    }
  } catch {
    // not JSON: use the text itself
  }
  return { text: body.trim().slice(0, 200) };
}
