#!/usr/bin/env node
// The tsbuild CLI: parses arguments and calls the commands. No build logic lives here.
import { constants } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { build, check, parseOutput, type Output } from './build.js';
import { formatError, UsageError } from './errors.js';
import { inspectImage, listImages, removeImages } from './images.js';
import { importImage } from './import.js';
import { duCommand, pruneCommand } from './prune.js';
import { createRenderer, type ProgressMode } from './progress.js';
import { runImage, type RunOptions } from './run.js';
import { loginCommand, loginHost, logoutCommand, pullCommand, pushCommand, tagCommand, type RegistryFlags } from './registry.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';

function buildArgs(list: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0) {
      // --build-arg NAME takes the value from the environment, as docker does.
      const v = process.env[kv];
      if (v !== undefined) m.set(kv, v);
    } else m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** Repeatable options: yargs gives a string once, an array when repeated. (`array: true` would swallow the positional context.) */
function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Set by the bundler; when running from source, read it from package.json. */
declare const TSBUILD_VERSION: string | undefined;
const version = typeof TSBUILD_VERSION === 'string' ? TSBUILD_VERSION : 'dev';

let debug = process.argv.includes('--debug');
let dockerfileForErrors: string | undefined;
/** The signal that cancelled the build: tsbuild then exits 128 + its number (130 for Ctrl-C), as docker does. */
let cancelledBy: NodeJS.Signals | undefined;

async function main(argv: string[]): Promise<number> {
  // `tsbuild run img ls -la`: everything after the image belongs to the command, which yargs can't
  // express without also halting at the word "run"; so run's few options are parsed here.
  if (argv[0] === 'run' && !argv.includes('--help')) return runImage(parseRunArgs(argv.slice(1)));
  let exitCode = 0;
  await yargs(argv)
    .scriptName('tsbuild')
    .usage('$0 [build] [options] CONTEXT\n\nBuild container images from Dockerfiles, without a daemon.')
    .option('root', { type: 'string', describe: 'store directory (default: $TSBUILD_ROOT, /var/lib/tsbuild as root)' })
    .option('debug', { type: 'boolean', describe: 'show stack traces for errors' })
    .option('insecure-registry', { type: 'string', coerce: list, describe: 'registry host allowed plain HTTP or unverified TLS; repeatable' })
    .option('registry-ca', { type: 'string', describe: 'PEM file of an extra CA to trust for registries' })
    .command(
      ['build <context>', '$0 <context>'],
      'Build an image from a Dockerfile',
      (y) =>
        y
          .positional('context', { type: 'string', demandOption: true, describe: 'build context directory' })
          .option('tag', { alias: 't', type: 'string', coerce: list, describe: 'name and optionally a tag (name:tag); repeatable' })
          .option('file', { alias: 'f', type: 'string', describe: 'Dockerfile path (default: CONTEXT/Dockerfile)' })
          .option('build-arg', { type: 'string', coerce: list, describe: 'set a build-time variable (K=V); repeatable' })
          .option('target', { type: 'string', describe: 'build this stage' })
          .option('cache', { type: 'boolean', default: true, describe: 'use the build cache (--no-cache to disable)' })
          .option('progress', { type: 'string', choices: ['auto', 'plain', 'json', 'quiet'], default: 'auto' })
          .option('output', { alias: 'o', type: 'string', coerce: list, describe: 'type=oci,dest=FILE; repeatable' })
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only the image digest' })
          .option('push', { type: 'boolean', describe: 'push every -t name to its registry after the build' })
          .option('pull', { type: 'boolean', describe: 'resolve base images against their registry even when stored locally' })
          .option('format', { type: 'string', choices: ['oci', 'docker'], default: 'oci', describe: 'manifest format to push' })
          .option('secret', { type: 'string', coerce: list, describe: 'secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR; repeatable' })
          .option('ssh', { type: 'string', coerce: list, describe: 'ssh agent for RUN --mount=type=ssh: default (from $SSH_AUTH_SOCK) or ID=SOCKET; repeatable' })
          .option('check', { type: 'boolean', describe: 'run the build checks only (lint), as docker build --check' })
          .option('allow', { type: 'string', coerce: list, describe: 'entitlement: security.insecure (RUN --security=insecure); repeatable' }),
      async (a) => {
        if (a.check) {
          const r = await check({ context: a.context!, file: a.file, buildArgs: buildArgs(a['build-arg']), target: a.target });
          process.stdout.write(r.text);
          exitCode = r.exitCode;
          return;
        }
        const mode: ProgressMode = a.quiet ? 'quiet' : progressMode(a.progress);
        const renderer = createRenderer(mode);
        const outputs: Output[] = (a.output ?? []).map(parseOutput);
        const abort = new AbortController();
        const onSignal = (sig: NodeJS.Signals): void => {
          cancelledBy = sig;
          abort.abort(new UsageError('build cancelled'));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const text: { value?: string } = {};
        try {
          const r = await build(
            {
              context: a.context!,
              file: a.file,
              tags: a.tag ?? [],
              buildArgs: buildArgs(a['build-arg']),
              target: a.target,
              noCache: !a.cache,
              outputs,
              root: a.root,
              signal: abort.signal,
              push: a.push,
              pull: a.pull,
              format: a.format as ManifestFormat,
              registry: registryFlags(a, abort.signal),
              secrets: a.secret,
              ssh: a.ssh,
              allow: a.allow,
            },
            renderer.sink,
            text,
          );
          renderer.close();
          if (a.quiet) process.stdout.write(`${r.manifest.digest}\n`);
          else {
            process.stderr.write(`writing image ${r.manifest.digest}${r.names.length ? ` as ${r.names.join(', ')}` : ''}\n`);
          }
        } catch (e) {
          renderer.close();
          dockerfileForErrors = text.value;
          throw e;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    )
    .command('pull <image>', 'Pull an image from a registry into the local store', (y) => y.positional('image', { type: 'string', demandOption: true }).option('progress', progressOption), async (a) => {
      const renderer = createRenderer(progressMode(a.progress));
      try {
        const digest = await pullCommand(a.image!, registryFlags(a), a.root, renderer.sink);
        process.stdout.write(`${digest}\n`);
      } finally {
        renderer.close();
      }
    })
    .command(
      'push <image> [destination]',
      'Push an image from the local store to a registry',
      (y) =>
        y
          .positional('image', { type: 'string', demandOption: true })
          .positional('destination', { type: 'string', describe: 'another name to push to (default: the image name)' })
          .option('format', { type: 'string', choices: ['oci', 'docker'], default: 'oci' })
          .option('progress', progressOption),
      async (a) => {
        const renderer = createRenderer(progressMode(a.progress));
        try {
          const digest = await pushCommand(a.image!, a.destination, a.format as ManifestFormat, registryFlags(a), a.root, renderer.sink);
          process.stdout.write(`${digest}\n`);
        } finally {
          renderer.close();
        }
      },
    )
    .command('tag <source> <target>', 'Give an image in the local store another name', (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }), async (a) => {
      await tagCommand(a.source!, a.target!, a.root);
    })
    .command(
      'login [server]',
      'Save credentials for a registry (in docker config.json or its credential helper)',
      (y) =>
        y
          .positional('server', { type: 'string', describe: 'registry host (default: Docker Hub)' })
          .option('username', { alias: 'u', type: 'string', demandOption: true })
          .option('password', { alias: 'p', type: 'string', describe: 'insecure: visible in the process list; prefer --password-stdin' })
          .option('password-stdin', { type: 'boolean', describe: 'read the password from standard input' }),
      async (a) => {
        let password = a.password;
        if (a['password-stdin']) password = (await readStdin()).replace(/\r?\n$/, '');
        if (!password) throw new UsageError('login needs a password', 'pass --password-stdin (e.g. echo "$TOKEN" | tsbuild login -u me --password-stdin registry.example)');
        const where = await loginCommand(a.server, a.username!, password, registryFlags(a));
        process.stdout.write(`Login Succeeded (credentials saved in ${where})\n`);
      },
    )
    .command('logout [server]', 'Remove saved credentials for a registry', (y) => y.positional('server', { type: 'string' }), async (a) => {
      const removed = await logoutCommand(a.server);
      process.stdout.write(removed ? `Removing login credentials for ${loginHost(a.server)}\n` : `Not logged in to ${loginHost(a.server)}\n`);
    })
    .command(
      'import <source> <image>',
      'Create an image from a root filesystem (a directory or a tar archive), as docker import',
      (y) =>
        y
          .positional('source', { type: 'string', demandOption: true })
          .positional('image', { type: 'string', demandOption: true })
          .option('change', { alias: 'c', type: 'string', coerce: list, describe: 'config setting: ENV K=V, CMD [...], ENTRYPOINT, WORKDIR, USER, LABEL, EXPOSE; repeatable' }),
      async (a) => {
        process.stdout.write(`${await importImage(a.source!, a.image!, a.change ?? [], a.root)}\n`);
      },
    )
    .command('prune', 'Remove the build cache (all that no tagged image needs)', (y) => y.option('all', { alias: 'a', type: 'boolean', describe: 'also cache mounts and the context stat cache' }), async (a) => {
      process.stdout.write(`${await pruneCommand(a.root, a.all === true)}\n`);
    })
    .command('du', 'Show the space the store uses', (y) => y, async (a) => {
      process.stdout.write(`${await duCommand(a.root)}\n`);
    })
    .command('images', 'List images in the local store', (y) => y, async (a) => {
      process.stdout.write(`${await listImages(a.root)}\n`);
    })
    .command('rmi <images..>', 'Remove image names from the local store', (y) => y.positional('images', { type: 'string', array: true, demandOption: true }), async (a) => {
      for (const line of await removeImages(a.images as string[], a.root)) process.stdout.write(`${line}\n`);
    })
    .command('inspect <image>', 'Print an image config as JSON', (y) => y.positional('image', { type: 'string', demandOption: true }), async (a) => {
      process.stdout.write(`${await inspectImage(a.image!, a.root)}\n`);
    })
    .command('run <image> [command..]', 'Run a command in an image (options: --rm, -e K=V, --network host|none)', (y) => y.help(false).version(false).strict(false), () => {})
    .demandCommand(1)
    .strict()
    .help()
    .version(version)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg, 'see tsbuild --help');
    })
    .parseAsync();
  return exitCode;
}

const progressOption = { type: 'string', choices: ['auto', 'plain', 'json', 'quiet'], default: 'auto' } as const;

function progressMode(p: string | undefined): ProgressMode {
  return p === 'json' ? 'json' : p === 'quiet' ? 'quiet' : 'plain';
}

function registryFlags(a: { 'insecure-registry'?: string[]; 'registry-ca'?: string }, signal?: AbortSignal): RegistryFlags {
  return { insecureRegistries: a['insecure-registry'] ?? [], registryCa: a['registry-ca'], signal };
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return s;
}

function parseRunArgs(args: string[]): RunOptions {
  const o: RunOptions = { image: '', command: [], env: [], network: 'host' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`, 'see tsbuild run --help');
      return v;
    };
    if (a === '--rm' || a === '--debug') continue;
    else if (a === '-e' || a.startsWith('--env')) o.env.push(value());
    else if (a.startsWith('--network')) {
      const n = value();
      if (n !== 'host' && n !== 'none') throw new UsageError(`invalid --network "${n}"`, 'use --network=host or --network=none');
      o.network = n;
    } else if (a.startsWith('--root')) o.root = value();
    else if (a.startsWith('-')) throw new UsageError(`unknown option for run: ${a}`, 'tsbuild run [--rm] [-e K=V] [--network host|none] IMAGE [COMMAND...]');
    else {
      o.image = a;
      o.command = args.slice(i + 1);
      return o;
    }
  }
  throw new UsageError('run needs an image', 'tsbuild run [--rm] IMAGE [COMMAND...]');
}

// If the event loop drains while a command is still awaiting something, a promise was left
// unsettled (a bug): never let that look like success.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  process.stderr.write('ERROR: tsbuild stopped with its work unfinished (an internal error; please report it with --debug output)\n');
  process.exit(1);
});

main(hideBin(process.argv)).then(
  (code) => {
    finished = true;
    process.exit(code);
  },
  (err) => {
    finished = true;
    debug ||= process.env.TSBUILD_DEBUG === '1';
    process.stderr.write(`${formatError(err, { dockerfile: dockerfileForErrors, debug })}\n`);
    process.exit(cancelledBy ? 128 + constants.signals[cancelledBy] : 1);
  },
);
