// Replaying a lockstep schedule: the chooser that `--choices`, `--schedule-file`, shrinking and
// the witnesses of `explore --all` give the kernel's scheduler (coordinator/scheduler.ts) instead of
// the seed's PRNG.

import type { Chooser } from '../coordinator/scheduler.js';

/**
 * Follows a list of choices, scheduler actions as `enabled` names them (a process, `@kernel`,
 * `@commit`: the reference model's sessions name them so too; `--choices` words are parsed to them
 * first, shared/kernel_name.ts parseChoiceToken): at the i-th decision it takes the i-th action if
 * enabled, and otherwise (or once the list is used up) the first enabled action. Any list is a
 * valid schedule, so a shrinker may cut it freely; replaying the same list gives the same run.
 */
export function replayChooser(choices: readonly string[]): Chooser & { followed: number; deviated: number } {
  let i = 0;
  const c = {
    followed: 0, deviated: 0,
    choose(enabled: string[]): number {
      const want = choices[i++];
      const at = want === undefined ? -1 : enabled.indexOf(want);
      if (at >= 0) { c.followed++; return at; }
      if (want !== undefined) c.deviated++;
      return 0;
    },
  };
  return c;
}
