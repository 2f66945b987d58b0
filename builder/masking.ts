// Secret values never reach the screen: a RUN's output (and so the failure report's last lines and
// --progress=json's log events) shows `****` where a --secret value appears, as CI systems mask
// theirs. Multi-line secrets are masked line by line; a chunk's end that could begin a secret is
// held back until the next chunk shows whether it does.
import { StringDecoder } from 'node:string_decoder';

export const MASK = '****';

/** Values shorter than this would mask ordinary output (a secret "a" would hide every letter a). */
const MIN_LENGTH = 4;

export class SecretMasker {
  private readonly parts: string[];

  constructor(values: Iterable<string>) {
    const parts = new Set<string>();
    for (const v of values) for (const line of v.split(/\r?\n/)) if (line.trim().length >= MIN_LENGTH) parts.add(line);
    // Longest first, so a secret that contains another is masked whole.
    this.parts = [...parts].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  mask(text: string): string {
    let out = text;
    for (const p of this.parts) out = out.split(p).join(MASK);
    return out;
  }

  /** How many trailing characters of `text` could be the start of a secret. */
  private pending(text: string): number {
    let keep = 0;
    for (const p of this.parts) {
      for (let n = Math.min(p.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(p.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }

  /** A masking filter for one output stream: push chunks, end() flushes what was held back. */
  stream(): { push(chunk: Buffer): Buffer; end(): Buffer } {
    const decoder = new StringDecoder('utf8');
    let held = '';
    return {
      push: (chunk) => {
        if (this.empty) return chunk;
        const text = this.mask(held + decoder.write(chunk));
        const keep = this.pending(text);
        held = text.slice(text.length - keep);
        return Buffer.from(text.slice(0, text.length - keep));
      },
      end: () => {
        const rest = this.mask(held + decoder.end());
        held = '';
        return Buffer.from(rest);
      },
    };
  }
}
