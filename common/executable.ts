// Finding a program as execvp does: a name with a slash is a path of its own, any other name is
// looked up in $PATH's directories in order. The first executable file wins.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of the executable `name`, or undefined. `alsoIn` are directories tried after $PATH's
 * (a tool that must not depend on the caller's PATH); without PATH, /usr/bin and /bin are searched.
 */
export function findExecutable(name: string, alsoIn: readonly string[] = []): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '/usr/bin:/bin').split(':'), ...alsoIn].filter(Boolean);
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}
