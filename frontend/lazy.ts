// The Dockerfile frontend, loaded when a build first needs it: a rebuild that the engine answers from
// its no-change record never parses a Dockerfile, and compiling the frontend's code was a sixth of
// the CLI's start-up.
import type { Frontend } from '../builder/frontend.js';

const load = (): Promise<Frontend> => import('./convert.js').then((m) => m.dockerfileFrontend);

export const dockerfileFrontend: Frontend = {
  build: async (input) => (await load()).build(input),
  check: async (input) => (await load()).check(input),
};
