// User mistakes in the Dockerfile: a message, the location, the offending line and a hint.
// cmd/ prints these without a stack trace.
import type { SourceLocation } from '../builder/graph.js';

export class DockerfileError extends Error {
  readonly userError = true;
  constructor(
    message: string,
    readonly location?: SourceLocation,
    readonly hint?: string,
    /** The offending source line(s), shown under the message. */
    readonly source?: string,
  ) {
    super(message);
    this.name = 'DockerfileError';
  }
}
