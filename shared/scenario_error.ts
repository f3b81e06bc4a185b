// The error every stage of reading a scenario throws (shared/scenario.ts, shared/scenario_text.ts):
// the file, the place (`processes.A.steps[3].pages`) and what is allowed. A module of its own so
// that the two stages import it, not each other.

export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(public file: string, public path: string, public detail: string) {
    super(path ? `${file}: ${path}: ${detail}` : `${file}: ${detail}`);
  }
}

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
