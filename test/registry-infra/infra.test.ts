// Self-test of test/helpers/registry.ts: the real registry (no auth, htpasswd, token, TLS) and
// the fault-injecting proxy, driven by curl and skopeo as independent clients.
// Clients run asynchronously on purpose: the token server and the proxy live in this process,
// so a synchronous exec would block the event loop and deadlock the client.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy, startRegistry, writeTestImage, type ProxyServer, type RegistryServer } from '../helpers/registry.js';

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
  });
}

/** curl -s with the status code appended on the last line ('\n%{http_code}'), headers kept with -i when asked. */
async function curl(args: string[]): Promise<Run & { status: number; body: string }> {
  const r = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args]);
  const text = r.stdout.toString();
  const nl = text.lastIndexOf('\n');
  return { ...r, status: Number(text.slice(nl + 1)), body: text.slice(0, nl) };
}

const skopeo = (args: string[]): Promise<Run> => run('skopeo', ['--insecure-policy', ...args]);

const cleanups: Array<{ stop(): Promise<void> }> = [];
function track<T extends { stop(): Promise<void> }>(s: T): T {
  cleanups.push(s);
  return s;
}
test.after.always(async () => {
  await Promise.all(cleanups.map((s) => s.stop()));
});

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('no auth: ping, skopeo push + inspect, requests and mounts in the log', async (t) => {
  const reg = track(await startRegistry());
  t.regex(reg.host, /^127\.0\.0\.1:\d+$/);
  t.is(reg.url, `http://${reg.host}`);
  t.is((await curl([`${reg.url}/v2/`])).status, 200);

  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-tls-verify=false', img.ref, `docker://${reg.host}/test:1`]);
  t.is(push.code, 0, push.stderr);
  const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/test:1`]);
  t.is(inspect.code, 0, inspect.stderr);
  const info = JSON.parse(inspect.stdout.toString()) as { Digest: string; Layers: string[] };
  t.is(info.Digest, img.manifestDigest);
  t.deepEqual(info.Layers, [img.layerDigest]);

  // A cross-repo mount shows up in the log with its query.
  const mount = await curl(['-X', 'POST', `${reg.url}/v2/other/blobs/uploads/?mount=${img.layerDigest}&from=test`]);
  t.is(mount.status, 201);
  const log = reg.log();
  t.regex(log, /"PUT \/v2\/test\/manifests\/1 HTTP\/1.1" 201/);
  t.regex(log, /POST \/v2\/other\/blobs\/uploads\/\?mount=sha256:[0-9a-f]{64}&from=test/);

  await reg.stop();
  await reg.stop(); // idempotent
  t.not((await curl([`${reg.url}/v2/`])).code, 0);
});

test('htpasswd: Basic challenge, curl -u, skopeo with right and wrong creds', async (t) => {
  const reg = track(await startRegistry({ auth: { kind: 'htpasswd', users: { alice: 's3cret', bob: 'hunter2' } } }));
  const anon = await curl(['-i', `${reg.url}/v2/`]);
  t.is(anon.status, 401);
  t.regex(anon.body, /^www-authenticate: Basic realm="[^"]+"/im);
  t.is((await curl(['-u', 'alice:s3cret', `${reg.url}/v2/`])).status, 200);
  t.is((await curl(['-u', 'bob:hunter2', `${reg.url}/v2/`])).status, 200);
  t.is((await curl(['-u', 'alice:wrong', `${reg.url}/v2/`])).status, 401);

  const img = writeTestImage();
  const ok = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret', img.ref, `docker://${reg.host}/test:1`]);
  t.is(ok.code, 0, ok.stderr);
  const bad = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:nope', img.ref, `docker://${reg.host}/test:2`]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /unauthorized|authentication required/i);
});

test('token: Bearer challenge, token by curl, skopeo token flow, wrong password, recorded scopes', async (t) => {
  const reg = track(await startRegistry({ auth: { kind: 'token', users: { alice: 's3cret' } } }));
  const tok = reg.token!;
  t.truthy(tok);
  const anon = await curl(['-i', `${reg.url}/v2/`]);
  t.is(anon.status, 401);
  t.true(anon.body.toLowerCase().includes(`www-authenticate: bearer realm="${tok.url}",service="${tok.service}"`), anon.body);

  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret', img.ref, `docker://${reg.host}/test:1`]);
  t.is(push.code, 0, push.stderr);
  t.true(tok.requests.some((r) => r.user === 'alice' && r.status === 200 && r.scopes.includes('repository:test:pull,push')), JSON.stringify(tok.requests));

  // A token fetched by curl (two scopes) works on /v2/ and on the repository.
  const got = await curl(['-u', 'alice:s3cret', `${tok.url}?service=${tok.service}&scope=repository:test:pull&scope=repository:other:pull,push`]);
  t.is(got.status, 200);
  const body = JSON.parse(got.body) as { token: string; access_token: string; expires_in: number; issued_at: string };
  t.is(body.token, body.access_token);
  t.is(body.expires_in, 300);
  t.false(Number.isNaN(Date.parse(body.issued_at)));
  const last = tok.requests.at(-1)!;
  t.deepEqual(last.scopes, ['repository:test:pull', 'repository:other:pull,push']);
  t.deepEqual(last.granted, ['repository:test:pull', 'repository:other:pull,push']);
  const bearer = ['-H', `Authorization: Bearer ${body.token}`];
  t.is((await curl([...bearer, `${reg.url}/v2/`])).status, 200);
  const tags = await curl([...bearer, `${reg.url}/v2/test/tags/list`]);
  t.is(tags.status, 200);
  t.deepEqual(JSON.parse(tags.body), { name: 'test', tags: ['1'] });
  // The token does not cover a third repository.
  t.is((await curl([...bearer, `${reg.url}/v2/third/tags/list`])).status, 401);

  // Anonymous: a token is issued but grants nothing (anonymousPull is off), so the registry refuses.
  const anonTok = await curl([`${tok.url}?service=${tok.service}&scope=repository:test:pull`]);
  t.is(anonTok.status, 200);
  t.deepEqual(tok.requests.at(-1)!.granted, []);
  t.is(tok.requests.at(-1)!.user, undefined);
  const anonBearer = (JSON.parse(anonTok.body) as { token: string }).token;
  t.is((await curl(['-H', `Authorization: Bearer ${anonBearer}`, `${reg.url}/v2/test/tags/list`])).status, 401);

  // Wrong password: the token server itself says 401, and so skopeo fails.
  const wrong = await curl(['-u', 'alice:nope', `${tok.url}?service=${tok.service}&scope=repository:test:pull`]);
  t.is(wrong.status, 401);
  t.is(tok.requests.at(-1)!.status, 401);
  const bad = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:nope', img.ref, `docker://${reg.host}/test:2`]);
  t.not(bad.code, 0);

  // OAuth2 form: password grant with a refresh token, then a refresh_token grant.
  const pw = await curl(['-d', `grant_type=password&username=alice&password=s3cret&service=${tok.service}&scope=repository:test:pull&access_type=offline&client_id=t`, tok.url]);
  t.is(pw.status, 200);
  const pwBody = JSON.parse(pw.body) as { access_token: string; refresh_token: string };
  t.truthy(pwBody.refresh_token);
  const rt = await curl(['-d', `grant_type=refresh_token&refresh_token=${pwBody.refresh_token}&service=${tok.service}&scope=repository:test:pull&client_id=t`, tok.url]);
  t.is(rt.status, 200);
  const rtToken = (JSON.parse(rt.body) as { access_token: string }).access_token;
  t.is((await curl(['-H', `Authorization: Bearer ${rtToken}`, `${reg.url}/v2/test/tags/list`])).status, 200);
});

test('token with anonymousPull: anonymous pull works, push does not', async (t) => {
  const reg = track(await startRegistry({ auth: { kind: 'token', users: { alice: 'pw' }, anonymousPull: true } }));
  const tok = reg.token!;
  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:pw', img.ref, `docker://${reg.host}/pub:1`]);
  t.is(push.code, 0, push.stderr);
  const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/pub:1`]);
  t.is(inspect.code, 0, inspect.stderr);
  const anonPush = await skopeo(['copy', '--dest-tls-verify=false', img.ref, `docker://${reg.host}/pub:2`]);
  t.not(anonPush.code, 0);
  t.true(tok.requests.some((r) => r.user === undefined && r.granted.includes('repository:pub:pull')));
});

test('tls: curl trusts caPath, fails without it; skopeo with --cert-dir', async (t) => {
  const reg = track(await startRegistry({ tls: true }));
  t.is(reg.url, `https://${reg.host}`);
  t.truthy(reg.caPath);
  t.is((await curl(['--cacert', reg.caPath!, `${reg.url}/v2/`])).status, 200);
  const untrusted = await curl([`${reg.url}/v2/`]);
  t.is(untrusted.code, 60); // peer certificate cannot be authenticated

  // skopeo verifies TLS too when given a cert dir holding the CA.
  const certDir = path.dirname(reg.caPath!);
  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-cert-dir', certDir, img.ref, `docker://${reg.host}/test:1`]);
  t.is(push.code, 0, push.stderr);
});

test('proxy: forwards skopeo and curl uploads, records requests, injects each fault', async (t) => {
  const reg = track(await startRegistry());
  const proxy: ProxyServer = track(await startProxy(reg.url));
  t.regex(proxy.host, /^127\.0\.0\.1:\d+$/);

  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-tls-verify=false', img.ref, `docker://${proxy.host}/test:1`]);
  t.is(push.code, 0, push.stderr);
  // Uploads went through the proxy end to end: the registry's absolute Location was rewritten.
  t.true(proxy.requests.some((r) => r.method === 'POST' && r.path.startsWith('/v2/test/blobs/uploads/') && r.status === 202));
  t.true(proxy.requests.some((r) => r.method === 'PUT' && r.path.startsWith('/v2/test/blobs/uploads/') && r.status === 201));
  t.true(proxy.requests.some((r) => r.method === 'PUT' && r.path === '/v2/test/manifests/1' && r.status === 201 && r.bytesIn > 0));

  // A 1 MiB monolithic upload by curl: Location points at the proxy, bytesIn counts the body.
  proxy.clear();
  t.deepEqual(proxy.requests, []);
  const big = randomBytes(1 << 20);
  const bigDigest = sha256(big);
  const bigFile = path.join(os.tmpdir(), `tsbuild-infra-${process.pid}.bin`);
  writeFileSync(bigFile, big);
  t.teardown(() => rmSync(bigFile, { force: true }));
  const post = await curl(['-i', '-X', 'POST', `${proxy.url}/v2/test/blobs/uploads/`]);
  t.is(post.status, 202);
  const location = /^location: (\S+)/im.exec(post.body)?.[1];
  t.truthy(location);
  t.true(location!.startsWith(proxy.url), location);
  const put = await curl(['-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${bigFile}`, `${location}&digest=${bigDigest}`]);
  t.is(put.status, 201, put.body);
  t.is(proxy.requests.length, 2);
  t.is(proxy.requests[1]!.bytesIn, big.length);
  const blobUrl = `${proxy.url}/v2/test/blobs/${bigDigest}`;
  const full = await run('curl', ['-sS', '--max-time', '10', blobUrl]);
  t.is(sha256(full.stdout), bigDigest);
  t.is(proxy.requests.at(-1)!.bytesOut, big.length);

  // status: 503 once, then the real answer.
  proxy.addFaults({ method: 'GET', path: /^\/v2\/$/, times: 1, fault: { kind: 'status', status: 503 } });
  t.is((await curl([`${proxy.url}/v2/`])).status, 503);
  t.is((await curl([`${proxy.url}/v2/`])).status, 200);
  // 429 with Retry-After, for the next two matching requests only.
  proxy.addFaults({ path: /\/manifests\//, times: 2, fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } } });
  const limited = await curl(['-i', `${proxy.url}/v2/test/manifests/1`]);
  t.is(limited.status, 429);
  t.regex(limited.body, /^retry-after: 1/im);
  t.regex(limited.body, /TOOMANYREQUESTS/);
  t.is((await curl(['-I', `${proxy.url}/v2/test/manifests/1`])).status, 429);
  t.is((await curl(['-H', 'Accept: application/vnd.oci.image.manifest.v1+json', `${proxy.url}/v2/test/manifests/1`])).status, 200);

  // reset: the connection dies mid-body (RST → curl 56; 18 if curl noticed the short body first).
  proxy.addFaults({ method: 'GET', path: /\/blobs\/sha256:/, times: 1, fault: { kind: 'reset' } });
  const reset = await run('curl', ['-sS', '--max-time', '10', blobUrl]);
  t.true([18, 56].includes(reset.code), `curl exit ${reset.code}: ${reset.stderr}`);
  t.true(reset.stdout.length < big.length);
  t.is(proxy.requests.at(-1)!.fault, 'reset');
  t.is(proxy.requests.at(-1)!.bytesOut, big.length / 2);

  // truncate: the real Content-Length, half the bytes, then FIN → curl 18 (partial file).
  proxy.addFaults({ method: 'GET', path: /\/blobs\/sha256:/, times: 1, fault: { kind: 'truncate' } });
  const trunc = await run('curl', ['-sS', '--max-time', '10', blobUrl]);
  t.is(trunc.code, 18, trunc.stderr);
  t.is(trunc.stdout.length, big.length / 2);

  // corrupt: same length, different hash; the small layer (known length) too.
  proxy.addFaults({ method: 'GET', path: /\/blobs\/sha256:/, times: 2, fault: { kind: 'corrupt' } });
  const bad = await run('curl', ['-sS', '--max-time', '10', blobUrl]);
  t.is(bad.code, 0);
  t.is(bad.stdout.length, big.length);
  t.not(sha256(bad.stdout), bigDigest);
  const badLayer = await run('curl', ['-sS', '--max-time', '10', `${proxy.url}/v2/test/blobs/${img.layerDigest}`]);
  t.is(badLayer.stdout.length, img.layerSize);
  t.not(sha256(badLayer.stdout), img.layerDigest);
  // Faults are used up: the next fetch is intact.
  t.is(sha256((await run('curl', ['-sS', '--max-time', '10', blobUrl])).stdout), bigDigest);

  // A bodiless answer is cut before its status line.
  proxy.addFaults({ method: 'HEAD', times: 1, fault: { kind: 'reset' } }, { method: 'HEAD', times: 1, fault: { kind: 'truncate' } });
  t.is((await curl(['-I', blobUrl])).code, 56);
  t.is((await curl(['-I', blobUrl])).code, 52);
  t.is((await curl(['-I', blobUrl])).status, 200);

  // delay: forwarded late.
  proxy.addFaults({ path: /^\/v2\/$/, times: 1, fault: { kind: 'delay', ms: 300 } });
  const t0 = Date.now();
  t.is((await curl([`${proxy.url}/v2/`])).status, 200);
  t.true(Date.now() - t0 >= 290);

  // Counting: exactly one request per curl call above, each recorded with its status.
  const blobGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'));
  t.deepEqual(blobGets.map((r) => r.fault ?? 'ok'), ['ok', 'reset', 'truncate', 'corrupt', 'corrupt', 'ok']);
  t.true(blobGets.every((r) => r.status === 200));
});

test('proxy in front of a TLS registry', async (t) => {
  const reg: RegistryServer = track(await startRegistry({ tls: true }));
  const proxy = track(await startProxy(reg)); // the RegistryServer carries its CA
  t.true(proxy.url.startsWith('http://'));
  t.is((await curl([`${proxy.url}/v2/`])).status, 200);
  const img = writeTestImage();
  const push = await skopeo(['copy', '--dest-tls-verify=false', img.ref, `docker://${proxy.host}/test:1`]);
  t.is(push.code, 0, push.stderr);
});
