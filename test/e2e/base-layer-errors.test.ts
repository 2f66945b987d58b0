// A base image's layer that cannot be used (its bytes do not match their digest, or its tar does not
// unpack) is reported at the Dockerfile line that needed the image: its FROM, COPY --from or RUN
// --mount from=, naming the image and the layer, as other step errors are. Against the real
// registry on loopback, with a proxy corrupting blobs on the wire.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeContext, storeWithBusybox, tmpDir, tsbuild } from '../helpers/cli.js';
import { startProxy, startRegistry, tarFile, writeTestImage, type ProxyServer, type TestImage } from '../helpers/registry.js';

const execFileP = promisify(execFile);
const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops.splice(0)) await s();
});

/** A registry behind a fault-injecting proxy. */
async function lab(): Promise<ProxyServer> {
  const reg = await startRegistry();
  stops.push(() => reg.stop());
  const px = await startProxy(reg);
  stops.push(() => px.stop());
  return px;
}

/** Pushes a test image layout to `name` (through the proxy, as everything else goes). */
async function push(image: TestImage, name: string): Promise<void> {
  await execFileP('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', image.ref, `docker://${name}`], { timeout: 60_000 });
}

interface Failure {
  stderr: string;
  error: { code: string; message: string; location?: { file: string; startLine: number } };
}

async function failedBuild(dockerfile: string, root?: string): Promise<Failure> {
  const ctx = makeContext({ Dockerfile: dockerfile, 'f.txt': 'f\n' });
  const r = await tsbuild(['build', '--progress=json', ctx], { root: root ?? tmpDir('tsbuild-root-') });
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"type":"error"'));
  if (r.code !== 1 || !line) throw new Error(`the build did not fail as expected (exit ${r.code}):\n${r.stderr}`);
  return { stderr: r.stderr, error: (JSON.parse(line) as { error: Failure['error'] }).error };
}

test('a layer whose bytes do not match its digest is reported at the FROM, COPY --from or RUN --mount from= that needed the image', async (t) => {
  const px = await lab();
  const image = writeTestImage({ content: 'served corrupted\n' });
  const name = `${px.host}/damaged:1`;
  await push(image, name);
  // Every download of the layer has a byte flipped; the manifest and config arrive intact.
  px.addFaults({ method: 'GET', path: new RegExp(`/blobs/${image.layerDigest}`), times: 1000, fault: { kind: 'corrupt' } });
  const cases: Array<[string, number, string | undefined]> = [
    [`FROM ${name}\nCOPY f.txt /f.txt\n`, 1, undefined],
    [`FROM scratch\nCOPY f.txt /f.txt\nCOPY --from=${name} /hello.txt /h\n`, 3, undefined],
    [`FROM busybox\nRUN --mount=from=${name},target=/m cat /m/hello.txt\n`, 2, await storeWithBusybox()],
  ];
  for (const [dockerfile, line, root] of cases) {
    const { stderr, error } = await failedBuild(dockerfile, root);
    // (the registry client retries a mismatching download, then reports it as the registry's fault)
    t.is(error.code, 'TSB_REGISTRY', `${dockerfile}: ${error.message}`);
    t.regex(error.message, /does not match its digest/);
    t.deepEqual(error.location && { file: error.location.file, startLine: error.location.startLine }, { file: 'Dockerfile', startLine: line }, dockerfile);
    t.true(error.message.includes(image.layerDigest), error.message);
    // The plain report shows the Dockerfile excerpt with that line marked.
    t.regex(stderr, new RegExp(`\\n\\s*${line} \\|[^\\n]*${name.replace(/[.:/]/g, '\\$&')}`), dockerfile);
  }
});

test('a layer that does not unpack names the image and the layer, at the FROM line', async (t) => {
  const px = await lab();
  // A tar cut off inside its file's data (the header promises 4 KB): valid gzip, right digests.
  const whole = tarFile('cut.bin', Buffer.alloc(4096, 1));
  const image = writeTestImage({ layerTar: whole.subarray(0, 1024) });
  const name = `${px.host}/cut:1`;
  await push(image, name);
  const { error, stderr } = await failedBuild(`FROM busybox AS unused\n\nFROM ${name}\nCOPY f.txt /f.txt\n`);
  t.is(error.code, 'TSB_ARCHIVE_INVALID');
  t.is(error.location?.startLine, 3);
  t.true(error.message.includes(image.layerDigest), error.message);
  t.true(error.message.includes('cut:1'), error.message);
  t.regex(stderr, /hint: /);
});
