// Dockerfile mistakes: TsbuildErrors located at the offending instruction (file:line), with a hint.
// The line parser, the word lexer and the dispatch walk all raise them; cmd/ renders them.
import { TsbuildError } from '../common/errors.js';

export class DockerfileError extends TsbuildError {}
