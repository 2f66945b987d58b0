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
The layer reading and whiteout handling are ../shared/lab/image-summary.py's."""
import importlib.util, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.environ.get('IMAGE_SUMMARY') or os.path.join(HERE, '..', '..', '..', 'shared', 'lab', 'image-summary.py')
spec = importlib.util.spec_from_file_location('image_summary', SUMMARY)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal',
          'Healthcheck', 'OnBuild', 'Shell', 'ArgsEscaped']

def view(path):
    config, layers = summary.load(path)
    tree = {}
    for l in layers: summary.apply(tree, l)
    for e in tree.values():
        if isinstance(e, dict): e.pop('hardlink', None)  # how the tar stored it, not what the user sees
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
