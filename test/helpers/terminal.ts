// A real terminal for tests of the TTY view: a tmux server of the test's own (its socket in the
// test's temporary folder: nothing shared with other tmux users, nothing left behind), one window
// of a given size running tsbuild.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath, tmpDir } from './cli.js';

/** Without CI variables: ink draws only a last frame when it thinks it runs in CI. */
function terminalEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION' && !k.startsWith('CI_')));
  return { ...env, TERM: 'xterm-256color', ...extra };
}

export class Terminal {
  private readonly env: NodeJS.ProcessEnv;
  private readonly dir = tmpDir('tsbuild-tty-');
  private readonly socket = path.join(this.dir, 'tmux');

  /**
   * Runs `tsbuild ARGS` in a width × height window. When it ends, the shell prints `EXIT=code` and
   * `STTY=` the terminal's line settings (icanon, echo, isig: raw mode turns them off) ending in a
   * dot, in one write (a test waiting for it never sees half of it), and waits. bash, as
   * it outlives a Ctrl-C that its child handles (dash exits at once, taking the window with it).
   */
  constructor(args: string[], opts: { width: number; height: number; env: NodeJS.ProcessEnv }) {
    this.env = terminalEnv(opts.env);
    const script = path.join(this.dir, 'run.sh');
    writeFileSync(script, `"${process.execPath}" "${cliPath}" "$@"\necho "EXIT=$?"\necho "STTY=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|isig)' | tr '\\n' ' ')."\nexec sleep 600\n`);
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(opts.width), '-y', String(opts.height), ['bash', script, ...args].join(' '));
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: this.env });
  }

  /** The window's text; with `escapes`, its colours and attributes as SGR sequences too. */
  screen(opts: { escapes?: boolean } = {}): string {
    return this.tmux('capture-pane', '-p', '-t', 'main', ...(opts.escapes ? ['-e'] : []));
  }

  /** The screen once it matches `re`. */
  async waitFor(re: RegExp, ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.screen();
      if (re.test(s)) return s;
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${re}:\n${s}`);
      await sleep(100);
    }
  }

  cursorVisible(): boolean {
    return this.tmux('display-message', '-p', '-t', 'main', '#{cursor_flag}').trim() === '1';
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', 'main', '-x', String(width), '-y', String(height));
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // the server is gone already
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
