// The tsbuild CLI: parses arguments into engine calls and renders what comes back. No build logic
// lives here, and no store is opened here: everything goes through builder's engine.
import { constants } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { Engine, login, loginHost, logout, type ManifestFormat, type ProgressSink, type RunRequest } from '../builder/engine.js';
import { asTsbuildError, TsbuildError, UsageError } from '../common/errors.js';
import { parsePlatform, parsePlatforms } from '../common/platform.js';
import { dockerfileFrontend } from '../frontend/lazy.js';
import { formatCheckOutput } from './warnings.js';
import { buildArgs, checkBuildxFlags, labels, parseCacheSpec, parseOutput, parseSecret, parseSsh, writeBuildFiles } from './build.js';
import { importConfig } from './changes.js';
import { withoutHelpCache } from './helpcache.js';
import { execDefaults } from './runflags.js';
import { parseAnnotations } from './annotations.js';
import { parseBuildContexts } from './buildcontext.js';
import { formatError, type SourceText } from './errors.js';
import { formatDiskUsage, formatImages, formatReclaimed } from './images.js';
import { formatFsck, pruneOptions } from './store.js';
import { createRenderer, jsonLine, type ProgressMode } from './progress.js';
import { needsRootless, runRootless } from './rootless.js';
import { asTyped, unknownFlags, unknownMessage, type KnownOptions } from './unknownflags.js';

/** Repeatable options: yargs gives a string once, an array when repeated. (`array: true` would swallow the positional context.) */
function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Set by the bundler; when running from source, read it from package.json. */
declare const TSBUILD_VERSION: string | undefined;
const version = typeof TSBUILD_VERSION === 'string' ? TSBUILD_VERSION : 'dev';

let debug = process.argv.includes('--debug');
/** The signal that cancelled the build: tsbuild then exits 128 + its number (130 for Ctrl-C), as docker does. */
let cancelledBy: NodeJS.Signals | undefined;
/** The Dockerfile the failing command's renderer saw, for the error report. */
let failedSource: SourceText | undefined;
/** With --progress=json, a failure is also one JSON line (whatever stage it failed at). */
const jsonProgress = /(?:^| )--progress(?:=| )json(?: |$)/.test(process.argv.slice(2).join(' '));

interface GlobalFlags {
  root?: string;
  'insecure-registry'?: string[];
  'registry-ca'?: string;
}

/** Opens the engine for one command and closes it after, whatever happens. */
async function withEngine<T>(a: GlobalFlags, fn: (engine: Engine) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const engine = Engine.open({
    ...(a.root !== undefined ? { root: a.root } : {}),
    registry: { insecureRegistries: a['insecure-registry'] ?? [], ...(a['registry-ca'] !== undefined ? { caFile: a['registry-ca'] } : {}) },
    frontends: { dockerfile: dockerfileFrontend },
    ...(signal ? { signal } : {}),
  });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/**
 * Runs fn with a renderer's sink, closing the renderer on both paths. The Dockerfile the engine read
 * (its 'source' event) is kept here, once for every mode, for excerpts in reports.
 */
async function rendered<T>(mode: ProgressMode, fn: (sink: ProgressSink, source: () => SourceText | undefined) => Promise<T>): Promise<T> {
  const renderer = await createRenderer(mode);
  let source: SourceText | undefined;
  const sink: ProgressSink = (e) => {
    if (e.type === 'source') source = e;
    renderer.sink(e);
  };
  try {
    const out = await fn(sink, () => source);
    await renderer.close();
    return out;
  } catch (e) {
    await renderer.close();
    failedSource = source;
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  // `tsbuild run img ls -la`: everything after the image belongs to the command, which yargs can't
  // express without also halting at the word "run"; so run's few options are parsed here.
  if (needsRootless(argv)) return runRootless(argv);
  const run = runArgs(argv);
  if (run && !argv.includes('--help')) return runCommand(run);
  let exitCode = 0;
  const parser = withoutHelpCache(yargs(argv));
  await parser
    .scriptName('tsbuild')
    .usage('$0 [build] [options] CONTEXT\n\nBuild container images from Dockerfiles, without a daemon.')
    .option('root', { type: 'string', describe: 'store directory (default: $TSBUILD_ROOT, /var/lib/tsbuild as root, else $XDG_DATA_HOME/tsbuild or ~/.local/share/tsbuild)' })
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
          .option('progress', progressOption)
          .option('output', { alias: 'o', type: 'string', coerce: list, describe: 'type=image|registry[,name=N] | type=oci|docker,dest=FILE|- | type=oci,tar=false,dest=DIR | type=local,dest=DIR | type=tar,dest=FILE|-; repeatable' })
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only the image id (config digest)' })
          .option('push', { type: 'boolean', describe: 'push every -t name to its registry after the build' })
          .option('pull', { type: 'boolean', describe: 'resolve base images against their registry even when stored locally' })
          .option('format', { type: 'string', choices: ['oci', 'docker'], default: 'oci', describe: 'manifest format to push' })
          .option('secret', { type: 'string', coerce: list, describe: 'secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR; repeatable' })
          .option('ssh', { type: 'string', coerce: list, describe: 'ssh agent for RUN --mount=type=ssh: default (from $SSH_AUTH_SOCK) or ID=SOCKET; repeatable' })
          .option('cache-from', { type: 'string', coerce: list, describe: 'reuse a build cache: type=registry,ref=R | type=local,src=DIR; repeatable, consulted in order' })
          .option('cache-to', { type: 'string', coerce: list, describe: 'export the build cache: type=registry,ref=R | type=local,dest=DIR | type=inline, with mode=min|max (cache-mounts=true: RUN cache mounts too); repeatable' })
          .option('check', { type: 'boolean', describe: 'run the build checks only (lint), as docker build --check' })
          .option('allow', { type: 'string', coerce: list, describe: 'entitlement: security.insecure (RUN --security=insecure); repeatable' })
          .option('label', { type: 'string', coerce: list, describe: 'set an image label (K=V); repeatable' })
          .option('iidfile', { type: 'string', describe: 'write the image id (config digest) to this file' })
          .option('metadata-file', { type: 'string', describe: 'write the build result (containerimage.digest, …) as JSON to this file' })
          .option('load', { type: 'boolean', describe: 'accepted for buildx: the local store is always written' })
          .option('platform', { type: 'string', coerce: list, describe: 'the target platforms, e.g. linux/amd64,linux/arm64 (several: an image index; another architecture\'s RUN runs under qemu-user-static)' })
          .option('provenance', { type: 'string', describe: 'accepted as false: no attestations yet' })
          .option('sbom', { type: 'string', describe: 'accepted as false: no attestations yet' })
          .option('builder', { type: 'string', hidden: true })
          .option('network', { type: 'string', describe: 'network of every RUN: default|none|host (RUN --network overrides it)' })
          .option('add-host', { type: 'string', coerce: list, describe: "an /etc/hosts entry of every RUN: HOST:IP; repeatable" })
          .option('shm-size', { type: 'string', describe: "size of every RUN's /dev/shm, e.g. 128m (default 64m)" })
          .option('build-context', { type: 'string', coerce: list, describe: 'a named context for FROM/--from/a stage of that name: NAME=DIR|docker-image://REF|oci-layout://DIR[@sha256:…]|GIT-URL[#REF:SUBDIR]|https://URL (a file); repeatable' })
          .option('annotation', { type: 'string', coerce: list, describe: 'an image annotation: [TYPE:]KEY=VALUE, TYPE manifest (default) or manifest-descriptor (index.json of type=oci|docker outputs); repeatable' })
          .option('ulimit', { type: 'string', coerce: list, describe: 'a resource limit of every RUN: TYPE=SOFT[:HARD], e.g. nofile=1024:2048; repeatable' }),
      async (a) => {
        const base = { context: a.context!, ...(a.file !== undefined ? { dockerfile: a.file } : {}), buildArgs: buildArgs(a['build-arg']), ...(a.target !== undefined ? { target: a.target } : {}), pull: a.pull ?? false, namedContexts: parseBuildContexts(a['build-context']) };
        if (a.check) {
          const r = await withEngine(a, (engine) => rendered('quiet', async (sink, source) => ({ result: await engine.check(base, sink), source: source() })));
          const out = formatCheckOutput(r.result, r.source?.text ?? '');
          process.stdout.write(r.result.violation ? `${out.text}\nERROR: ${r.result.violation}\n` : out.text);
          exitCode = out.exitCode;
          return;
        }
        checkBuildxFlags(a);
        const outputs = (a.output ?? []).map(parseOutput);
        const toStdout = outputs.some((o) => o.attrs.dest === '-');
        if (toStdout && process.stdout.isTTY) throw new UsageError('an output with dest=- would write an archive to the terminal', 'redirect standard output to a file or a pipe, e.g. -o type=tar,dest=- > rootfs.tar');
        const request = {
          ...base,
          tags: a.tag ?? [],
          noCache: !a.cache,
          outputs,
          stdout: process.stdout,
          cacheFrom: (a['cache-from'] ?? []).map((s) => parseCacheSpec(s, '--cache-from')),
          cacheTo: (a['cache-to'] ?? []).map((s) => parseCacheSpec(s, '--cache-to')),
          push: a.push ?? false,
          format: a.format as ManifestFormat,
          secrets: new Map((a.secret ?? []).map(parseSecret)),
          ssh: new Map((a.ssh ?? []).map(parseSsh)),
          allow: a.allow ?? [],
          labels: labels(a.label),
          exec: execDefaults(a),
          annotations: parseAnnotations(a.annotation),
          platforms: parsePlatforms(a.platform ?? []),
        };
        const abort = new AbortController();
        const onSignal = (sig: NodeJS.Signals): void => {
          cancelledBy = sig;
          abort.abort(new TsbuildError('TSB_CANCELLED', 'build cancelled'));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const r = await withEngine(a, (engine) => rendered(a.quiet ? 'quiet' : progressMode(a.progress), (sink) => engine.build({ ...request, signal: abort.signal }, sink)), abort.signal);
          await writeBuildFiles(r, { ...(a.iidfile !== undefined ? { iidfile: a.iidfile } : {}), ...(a['metadata-file'] !== undefined ? { metadataFile: a['metadata-file'] } : {}) });
          // The image id, as docker prints it (the config digest: layer compression does not change it).
          if (a.quiet && !toStdout) process.stdout.write(`${r.id}\n`);
          else process.stderr.write(`writing image ${r.id}${r.names.length ? ` as ${r.names.join(', ')}` : ''}\n`);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    )
    .command('pull <image>', 'Pull an image from a registry into the local store', (y) => y.positional('image', { type: 'string', demandOption: true }).option('progress', progressOption), async (a) => {
      const digest = await withEngine(a, (engine) => rendered(progressMode(a.progress), (sink) => engine.pull(a.image!, sink)));
      process.stdout.write(`${digest}\n`);
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
        const digest = await withEngine(a, (engine) => rendered(progressMode(a.progress), (sink) => engine.push(a.image!, a.destination, a.format as ManifestFormat, sink)));
        process.stdout.write(`${digest}\n`);
      },
    )
    .command('tag <source> <target>', 'Give an image in the local store another name', (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }), async (a) => {
      await withEngine(a, (engine) => engine.tag(a.source!, a.target!));
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
        const where = await login({ insecureRegistries: a['insecure-registry'] ?? [], ...(a['registry-ca'] !== undefined ? { caFile: a['registry-ca'] } : {}) }, a.server, a.username!, password);
        process.stdout.write(`Login Succeeded (credentials saved in ${where})\n`);
      },
    )
    .command('logout [server]', 'Remove saved credentials for a registry', (y) => y.positional('server', { type: 'string' }), async (a) => {
      const removed = await logout(a.server);
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
        const config = importConfig(a.change ?? []);
        process.stdout.write(`${await withEngine(a, (engine) => engine.importImage(a.source!, a.image!, config))}\n`);
      },
    )
    .command(
      'prune',
      'Remove the build cache (all that no tagged image needs), least recently used first',
      (y) =>
        y
          .option('all', { alias: 'a', type: 'boolean', describe: 'also cache mounts and the context stat cache' })
          .option('keep-storage', { type: 'string', describe: 'keep the most recently used cache up to this size (e.g. 5GB)' })
          .option('filter', { type: 'string', coerce: list, describe: 'until=DURATION: only what was last used longer ago (e.g. 24h)' }),
      async (a) => {
        const opts = pruneOptions(a.all === true, a['keep-storage'], a.filter ?? []);
        process.stdout.write(`${formatReclaimed(await withEngine(a, (engine) => engine.prune(opts)))}\n`);
      },
    )
    .command('fsck', 'Check the store: blobs against their digests, images, snapshots, cache records', (y) => y.option('repair', { type: 'boolean', describe: 'remove what is damaged, and what depends on it' }).option('format', { type: 'string', choices: ['text', 'json'], default: 'text' }), async (a) => {
      const r = await withEngine(a, (engine) => engine.fsck({ repair: a.repair === true }));
      process.stdout.write(a.format === 'json' ? `${JSON.stringify(r)}\n` : formatFsck(r));
      if (r.problems.some((p) => !p.repaired)) exitCode = 1;
    })
    .command('du', 'Show the space the store uses', (y) => y, async (a) => {
      process.stdout.write(`${formatDiskUsage(await withEngine(a, (engine) => engine.diskUsage()))}\n`);
    })
    .command('images', 'List images in the local store', (y) => y, async (a) => {
      process.stdout.write(`${formatImages(await withEngine(a, (engine) => engine.listImages()))}\n`);
    })
    .command('rmi <images..>', 'Remove image names from the local store', (y) => y.positional('images', { type: 'string', array: true, demandOption: true }), async (a) => {
      const names = a.images as string[];
      await withEngine(a, (engine) => engine.untag(names));
      for (const n of names) process.stdout.write(`Untagged: ${n}\n`);
    })
    .command('inspect <image>', 'Print an image config as JSON', (y) => y.positional('image', { type: 'string', demandOption: true }).option('platform', { type: 'string', describe: "of a multi-platform image, this platform's config (default this machine's)" }), async (a) => {
      const platform = a.platform !== undefined ? parsePlatform(a.platform) : undefined;
      process.stdout.write(`${JSON.stringify(await withEngine(a, (engine) => engine.inspect(a.image!, platform)), null, 2)}\n`);
    })
    .command('run <image> [command..]', 'Run a command in an image (options: --rm, -e K=V, --network host|none)', (y) => y.help(false).version(false).strict(false), () => {})
    .demandCommand(1)
    .strict()
    .help()
    .version(version)
    .fail((msg, err) => {
      if (err) throw err;
      // An unknown flag first: it may have taken the next word as its value, the cause of any other complaint.
      const unknown = unknownFlags(argv, (parser as unknown as { getOptions(): KnownOptions }).getOptions());
      throw new UsageError(unknown.length ? unknownMessage(unknown) : asTyped(msg, argv), 'see tsbuild --help');
    })
    .parseAsync();
  return exitCode;
}

const progressOption = { type: 'string', choices: ['auto', 'tty', 'plain', 'json', 'quiet'], default: 'auto', describe: 'auto: tty on a terminal, plain otherwise' } as const;

/** auto: the TTY view where stderr is a terminal that can draw it, plain lines otherwise (as buildx). */
function progressMode(p: string | undefined): ProgressMode {
  if (p === 'auto' || p === undefined) return process.stderr.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
  return p === 'json' || p === 'quiet' || p === 'tty' ? p : 'plain';
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return s;
}

/** `tsbuild run [--rm] [-e K=V] [--network host|none] [--root DIR] IMAGE [COMMAND...]`. */
function parseRunArgs(args: string[]): RunRequest & { root?: string } {
  const o: RunRequest & { root?: string; env: string[] } = { image: '', command: [], env: [], network: 'host' };
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
    else if (a.startsWith('--platform')) o.platform = parsePlatform(value());
    else if (a.startsWith('-')) throw new UsageError(`unknown option for run: ${a}`, 'tsbuild run [--rm] [-e K=V] [--network host|none] [--platform P] IMAGE [COMMAND...]');
    else {
      o.image = a;
      o.command = args.slice(i + 1);
      return o;
    }
  }
  throw new UsageError('run needs an image', 'tsbuild run [--rm] IMAGE [COMMAND...]');
}

/** `run`'s arguments, global options before the word run included (`tsbuild --root DIR run img`); undefined for other commands. */
function runArgs(argv: readonly string[]): string[] | undefined {
  let i = 0;
  while (argv[i] === '--debug' || argv[i]?.startsWith('--root=')) i++;
  if (argv[i] === '--root') return argv[i + 2] === 'run' ? ['--root', argv[i + 1]!, ...runArgs(argv.slice(i + 2))!] : undefined;
  return argv[i] === 'run' ? [...argv.slice(0, i), ...argv.slice(i + 1)] : undefined;
}

/** Runs the image with signals forwarded to the container; its exit status is tsbuild's. */
async function runCommand(args: string[]): Promise<number> {
  const { root, ...req } = parseRunArgs(args);
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  try {
    return await withEngine(root !== undefined ? { root } : {}, (engine) =>
      engine.run({
        ...req,
        onStart: (signal) => {
          for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) handlers.push([sig, () => signal(sig)]);
          for (const [sig, h] of handlers) process.on(sig, h);
        },
      }),
    );
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
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
    if (jsonProgress) process.stderr.write(jsonLine({ type: 'error', error: asTsbuildError(err).toJSON() }));
    process.stderr.write(`${formatError(err, { ...(failedSource ? { source: failedSource } : {}), debug })}\n`);
    const cancelled = err instanceof TsbuildError && err.code === 'TSB_CANCELLED';
    process.exit(cancelled && cancelledBy ? 128 + constants.signals[cancelledBy] : 1);
  },
);
