#!/usr/bin/env python3
"""normalize.py IMAGE.tar BASE.tar -> the corpus's JSON view of IMAGE on stdout (used by both
scripts/corpus-expect.sh, which writes BuildKit's as expected.json, and test/e2e/corpus.test.ts, which
compares tsbuild's to it, so the two can't drift).

IMAGE and BASE may be docker-save archives or OCI layout archives. The view is what differs from BASE:
  config   the config fields users see (Labels minus BASE's identical ones; ExposedPorts/Volumes as sorted
           key lists; fields absent/empty are left out)
  history  the entries after BASE's: created_by and empty_layer (no timestamps, no comment)
  layers   the number of layers on top of BASE's
  tree     the file tree after all layers (type, mode, uid, gid, size, sha256, symlink target; no mtimes),
           minus entries identical in BASE; entries of BASE missing from IMAGE are "deleted"
Archive reading is ../shared/lab/image-summary.py's load(); layers are applied here (its apply() mangles
top-level dot files). Hard links are reported as the files they link to."""
import hashlib, importlib.util, io, json, os, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.environ.get('IMAGE_SUMMARY') or os.path.join(HERE, '..', '..', '..', 'shared', 'lab', 'image-summary.py')
spec = importlib.util.spec_from_file_location('image_summary', SUMMARY)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal',
          'Healthcheck', 'OnBuild', 'Shell', 'ArgsEscaped']

def clean(name):
    """An archive entry name as an absolute path: only a leading "./" or "/" is removed (image-summary.py's
    name.lstrip('./') also eats the dot of top-level dot files, so the whiteout `.wh.root` became `/wh.root`)."""
    while name.startswith('./') or name.startswith('/'): name = name[2:] if name.startswith('./') else name[1:]
    return '/' + name.rstrip('/') if name not in ('', '.') else '/'

def apply(tree, data):
    """image-summary.py's apply (whiteouts, opaque dirs, dir replaced by non-dir) with clean() names."""
    t = tarfile.open(fileobj=io.BytesIO(data), mode='r:*')
    for m in t.getmembers():
        name = clean(m.name)
        if name == '/': continue
        d, b = os.path.split(name)
        if b == '.wh..wh..opq':
            for k in [k for k in tree if k.startswith(d.rstrip('/') + '/')]: del tree[k]
            continue
        if b.startswith('.wh.'):
            gone = os.path.join(d, b[4:])
            for k in [k for k in tree if k == gone or k.startswith(gone + '/')]: del tree[k]
            continue
        e = {'mode': oct(m.mode & 0o7777), 'uid': m.uid, 'gid': m.gid}
        if m.isdir(): e['type'] = 'dir'
        elif m.issym(): e.update(type='symlink', target=m.linkname)
        elif m.islnk():
            src = tree.get(clean(m.linkname), {})
            e.update(type='file', size=src.get('size'), sha256=src.get('sha256'))
        elif m.isfile():
            c = t.extractfile(m).read()
            e.update(type='file', size=len(c), sha256=hashlib.sha256(c).hexdigest())
        else: e['type'] = 'other:' + m.type.decode()
        if e['type'] != 'dir' and name in tree and tree[name].get('type') == 'dir':
            for k in [k for k in tree if k.startswith(name + '/')]: del tree[k]
        tree[name] = e

def view(path):
    config, layers = summary.load(path)
    tree = {}
    for l in layers: apply(tree, l)
    c = config.get('config') or {}
    cfg = {k: c[k] for k in FIELDS if c.get(k) not in (None, [], {}, '')}
    for k in ('ExposedPorts', 'Volumes'):
        if k in cfg: cfg[k] = sorted(cfg[k])
    hist = [{'created_by': h.get('created_by', ''), 'empty_layer': bool(h.get('empty_layer'))}
            for h in config.get('history') or []]
    return {'config': cfg, 'history': hist, 'layers': len(layers), 'tree': tree}

def minus(img, base):
    cfg = dict(img['config'])
    bl = base['config'].get('Labels') or {}
    labels = {k: v for k, v in (cfg.pop('Labels', None) or {}).items() if bl.get(k) != v}
    if labels: cfg['Labels'] = labels
    hist = img['history'][len(base['history']):]  # an image's history starts with its base's
    tree = {k: v for k, v in img['tree'].items() if base['tree'].get(k) != v}
    tree.update({k: 'deleted' for k in base['tree'] if k not in img['tree']})
    return {'config': cfg, 'history': hist, 'layers': img['layers'] - base['layers'], 'tree': tree}

if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    print(json.dumps(minus(view(sys.argv[1]), view(sys.argv[2])), indent=1, sort_keys=True))
