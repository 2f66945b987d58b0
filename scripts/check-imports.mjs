#!/usr/bin/env node
// The import rule of DESIGN §8, checked in CI: data flows frontend → builder → snapshotter/native, cmd/
// on top, common/ below all. Prints each import that breaks it and exits 1; prints a summary otherwise.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** folder → the project folders it may import (besides itself). */
const allowed = {
  common: [],
  frontend: ['common', 'builder/graph.ts', 'builder/frontend.ts'],
  native: ['common'],
  snapshotter: ['common', 'native'],
  builder: ['common', 'snapshotter', 'native'],
  cmd: ['common', 'builder', 'frontend'],
};

/**
 * Inside frontend/, the line parser and the word lexer import nothing but their own types (the
 * lexer's pattern matching, glob.ts, is part of it).
 */
const leaves = { 'frontend/parser.ts': [], 'frontend/shell.ts': ['frontend/glob.ts'], 'frontend/glob.ts': [] };

function* sources(dir) {
  for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'build' && e.name !== 'node_modules') yield* sources(rel);
    } else if (/\.tsx?$/.test(e.name)) yield rel;
  }
}

// Static imports, re-exports and dynamic import() of relative paths.
const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

const violations = [];
let checked = 0;
for (const folder of Object.keys(allowed)) {
  for (const file of sources(folder)) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      checked++;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      const targetFolder = target.split('/')[0];
      if (targetFolder === folder) {
        const leaf = leaves[file];
        if (leaf && !leaf.includes(target) && !/(?:^|\/)(?:types|errors)\.ts$/.test(target)) violations.push(`${file}: imports ${spec} (it must stay a leaf)`);
        continue;
      }
      const ok = allowed[folder].some((a) => target === a || target.startsWith(`${a}/`));
      if (!ok) violations.push(`${file}: imports ${spec} (${folder}/ may import ${allowed[folder].join(', ') || 'nothing of the project'})`);
    }
  }
}
if (violations.length) {
  process.stderr.write(`import rule (DESIGN §8) broken:\n${violations.map((v) => `  ${v}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`import rule: ${checked} imports follow DESIGN §8\n`);
