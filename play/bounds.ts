// The bounds of `vrange play`'s waits: every wait of the server and of the end of a game has a
// limit (shared/limits.ts), and a wait that passes it is a named error, never a silent hang.

/** True once `p` has settled (resolved or rejected), false if `ms` pass first. Never rejects. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The end of a game was not clean: each step that failed or passed its bound, in words. */
export class ShutdownError extends Error {}

export interface ShutdownStep { what: string; run: () => Promise<void>; ms: number }

/**
 * Runs the steps one after another, each within its bound; a step that fails or passes its bound
 * does not stop the steps after it (the session's close still kills the agents of a run that
 * did not end). Throws one ShutdownError naming every step that went wrong.
 */
export async function shutdownSteps(steps: readonly ShutdownStep[]): Promise<void> {
  const wrong: string[] = [];
  for (const s of steps) {
    let error: Error | undefined;
    const done = s.run().catch((e: Error) => { error = e; });
    if (!await settledWithin(done, s.ms)) wrong.push(`${s.what}: not done within ${s.ms / 1000} s`);
    else if (error) wrong.push(`${s.what}: ${error.message}`);
  }
  if (wrong.length) throw new ShutdownError(`the end of the game was not clean: ${wrong.join('; ')}`);
}
