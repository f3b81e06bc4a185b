// What a checker may read of a finished run: a narrow, read-only view of the kernel's final state
// (frames, reverse map, files, processes), what was recorded while it ran (violations, completed
// steps, the history) and what it ran (scenario, configuration). Nothing here can change the
// kernel or reach its sockets and agents; the Kernel class satisfies it structurally, so a checker
// can be given the kernel after a run, or a view built by hand (a test's planted state, a replayed
// history).

import type { FrameTable } from '../coordinator/frames.js';
import type { Rmap } from '../coordinator/rmap.js';
import type { AddressSpace } from '../coordinator/address_space.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunConfig, Scenario, StepResult } from '../shared/scenario-types.js';

/** Physical memory, read only: counts, reference counts, page-cache owners, the frames in use. */
export type FramesView = Pick<FrameTable, 'total' | 'used' | 'free' | 'refcount' | 'ownerFile' | 'ownerPage' | 'usedFrames' | 'assertConserved'>;
/** The reverse map, read only: references per frame, the frames some page table maps. */
export type RmapView = Pick<Rmap, 'referencesTo' | 'mappedFrames'>;
/** A file's address_space, read only: its page cache and kind. */
export type FileView = Pick<AddressSpace, 'name' | 'kind' | 'cache' | 'residentPages'>;
/** A process as the checkers see it: its name, pid and whether it still runs. */
export interface ProcView { readonly name: string; readonly pid: number; readonly live: boolean }
/** A fact a component found broken while the run went on (an agent's report, the scheduler's deadlock, the run's end). */
export interface Violation { readonly name: string; readonly text: string }
/** A step that completed, in the order they completed. */
export interface StepView { readonly process: string; readonly index: number; readonly op: string; readonly result: StepResult; readonly kernel?: true }

export interface RunView {
  readonly scenario: Scenario;
  readonly config: RunConfig;
  readonly frames: FramesView;
  readonly rmap: RmapView;
  readonly files: readonly FileView[];
  readonly procs: readonly ProcView[];
  readonly violations: readonly Violation[];
  readonly steps: readonly StepView[];
  readonly history: { readonly events: readonly HistoryEvent[] };
}
