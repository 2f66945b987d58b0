// Progress events for the TTY view's tests, and their fold into a state.
import type { ProgressEvent } from '../../../builder/engine.js';
import { initialState, reduce, type BuildState } from '../../../cmd/tui/state.js';

export const log = (id: string, data: string): ProgressEvent => ({ type: 'log', id, stream: 'stdout', data: Buffer.from(data), time: 0 });
export const start = (id: string, name: string, time = 1000): ProgressEvent => ({ type: 'vertex-start', id, name, time });
export const done = (id: string, duration: number): ProgressEvent => ({ type: 'vertex-done', id, time: 0, duration });

export function fold(events: ProgressEvent[], now = 5000): BuildState {
  return events.reduce((s, e) => reduce(s, e, now), initialState(0));
}
