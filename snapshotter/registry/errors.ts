// Registry failures as users see them: which registry, what it said, what to do. Never a secret.
import { TsbuildError } from '../../common/errors.js';

export class RegistryError extends TsbuildError {
  constructor(
    message: string,
    readonly registry: string,
    readonly status?: number,
    /** The distribution-spec error code (MANIFEST_UNKNOWN, DENIED, ...) or the connection's errno, when known. */
    readonly registryCode?: string,
    hint?: string,
    code: 'TSB_REGISTRY' | 'TSB_REGISTRY_AUTH' = 'TSB_REGISTRY',
  ) {
    super(code, message, hint !== undefined ? { hint } : {});
  }
}

export class AuthError extends RegistryError {
  constructor(registry: string, detail: string, hint = `check your credentials: tsbuild login ${registry}`) {
    super(`authentication to ${registry} failed: ${detail}`, registry, 401, 'UNAUTHORIZED', hint, 'TSB_REGISTRY_AUTH');
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
