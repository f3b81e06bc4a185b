// Limits, one named constant each, with the unit in the name (TigerStyle).
// A run that would pass one stops with a message rather than growing without bound.

/**
 * Agents started ahead of time so that a fork does not pay a Node start-up: one per fork still
 * possible (a `fork` step not yet run names an unborn child), at most this many, however many
 * `forked` processes the scenario declares (each idle agent is a Node process, some 40 MB).
 */
export const agentPoolMax = 4;
/** Agents a run session (harness/session.ts) keeps started beyond what its last run used, once a run has lost one to a kill. */
export const sessionSpareAgents = 1;
/**
 * A mapper silent this long while the kernel waits for its answer (to a prepare) or its ack (of a
 * commit) has its pages kept. Counted from the prepare or commit, or from the last message the
 * mapper sent since, whichever is later: a busy mapper that is still talking is not given up on.
 * Only a mapper that is stopped (a pause fault, SIGSTOP) or remote is judged by this bound: a local
 * agent the OS has running is slow, not gone, and is waited for up to exchangeWaitMaxMs
 * (coordinator/reclaim.ts waitFor), so a loaded machine does not change what a run purges.
 */
export const exchangeTimeoutMs = 2_000;
/** However much a mapper talks, the kernel waits at most this long for one exchange's answers (or acks). */
export const exchangeWaitMaxMs = 30_000;
/**
 * After a wake-up that came this late (the kernel's own event loop was busy, so messages may be
 * waiting unread in the socket), the kernel reads its socket before it declares anyone silent.
 */
export const exchangeLateWakeMs = 20;
/** How long the kernel waits for a new agent's hello before giving up on the run. */
export const agentStartTimeoutMs = 20_000;
/** How long a command stopped by SIGINT, SIGTERM or SIGHUP waits for a slow reader to take the output it wrote (its --json report) before it exits anyway. */
export const interruptedOutputDrainMs = 10_000;
/**
 * Steps in one scenario, all processes and the kernel together: the loader refuses more (exit 2),
 * so that every scenario it accepts can run (the per-process limit alone, 250,000 steps of each of
 * 1,024 processes, would allow runs no history could hold).
 */
export const runStepsMax = 1_000_000;
/**
 * Wall-clock bound of one run; past it the run stops and reports the steps still open. It grows
 * with the scenario (runTimeoutFor): a base, plus an allowance per step and per process, so that a
 * scenario within the limits finishes. Measured on 2 shared, busy cores: 250,000 steps of one
 * process took 126 s in lockstep and 235 s free (0.5 and 0.94 ms a step), 25,000 took 11.6 s and
 * 7 s; the allowance is 3 ms a step. `--timeout MS` (run, explore) replaces the bound.
 */
export const runTimeoutBaseMs = 120_000;
/** Per step of the scenario (processes' and kernel's), on top of runTimeoutBaseMs. */
export const runTimeoutPerStepMs = 3;
/** Per process of the scenario (each is a Node process to start and end), on top of runTimeoutBaseMs. */
export const runTimeoutPerProcessMs = 250;
/** The longest bound a timer can keep (setTimeout's ceiling, about 24.8 days); `--timeout` at most this. */
export const runTimeoutMaxMs = 2 ** 31 - 1;
/** The run's wall-clock bound for a scenario of `steps` steps in all and `processes` processes. */
export function runTimeoutFor(c: { steps: number; processes: number }): number {
  if (!Number.isInteger(c.steps) || !Number.isInteger(c.processes) || c.steps < 0 || c.processes < 0) {
    throw new Error(`runTimeoutFor: steps and processes must be whole numbers >= 0, got ${c.steps} and ${c.processes}`);
  }
  return Math.min(runTimeoutMaxMs, runTimeoutBaseMs + c.steps * runTimeoutPerStepMs + c.processes * runTimeoutPerProcessMs);
}
/** Page runs named in one prepare, prepared or commit message; a larger batch is split. */
export const runsPerMessageMax = 65_536;
/**
 * madv-free: direct reclaim scans again while a scan freed nothing but took a young bit away (the
 * second chance is spent: the next scan may free), at most this many scans a fault before the OOM killer.
 */
export const lazyfreeScansMax = 8;
/** Processes alive at once (agents are real OS processes). */
export const processesMax = 1_024;
/** Open file descriptors per process. */
export const fdsPerProcessMax = 1_024;
/** Virtual pages an mm may map in all (the emulated address space is 2^36 pages). */
export const vpagesMax = 2 ** 36;
/** Volatile range pieces per mm or per file. */
export const rangesPerSetMax = 1_000_000;
/**
 * Pages one `query` may ask about: its result has one entry per page, so a larger query is E2BIG
 * (docs/semantics.md) rather than a result of millions of entries in every report.
 */
export const queryPagesMax = 65_536;
/** Byte length of one page value (a write's string). */
export const valueBytesMax = 4_096;
/** Names (files, processes, signals, map bindings) in a scenario file and on the wire: characters. */
export const nameLengthMax = 64;
/** Events kept in one run's history. */
export const historyEventsMax = 5_000_000;
/** Remote agents: the kernel pings each one this often (`--heartbeat-ms`). */
export const heartbeatIntervalMs = 200;
/** Remote agents: silent this long, an agent is dead (`--heartbeat-timeout-ms`); so is a silent kernel to its agents. */
export const heartbeatTimeoutMs = 600;
/** `vrange kernel`: how long a birth waits for a remote agent to connect and say hello. */
export const remoteAgentWaitMs = 60_000;
/** `vrange kernel`: after the run, time given to the last `die` messages to reach remote agents before the socket closes. */
export const remoteGoodbyeMs = 100;

// ---- What a scenario may declare (shared/scenario.ts checks them; its LIMITS names them).

/** Steps of one process in a scenario. */
export const stepsPerProcessMax = 250_000;
/** Files a scenario declares. */
export const filesMax = 4_096;
/** Physical page frames (`memory.frames`, `--frames`). */
export const framesMax = 4_000_000;
/** Pages of one file. */
export const filePagesMax = 4_000_000;
/** Pages of one mmap. */
export const mmapPagesMax = 4_000_000;
/** Goals a scenario declares (`goals:`). */
export const goalsMax = 64;
/** Conditions (`when:` items) of one goal. */
export const goalConditionsMax = 64;

// ---- What the CLI reads: refused, unread, past these (shared/files.ts, shared/scenario.ts).

/** Bytes of a scenario file (YAML or JSON). */
export const scenarioFileBytesMax = 16 * 1024 * 1024;
/** Bytes of a history file (`vrange check`), as `--trace` writes it. */
export const historyFileBytesMax = 256 * 1024 * 1024;
/**
 * Bytes of one line of a history file (`vrange check`). The longest lines vrange writes are a
 * `query` of queryPagesMax pages (about 4 MB, in its `complete` and, under --trace, its `done`
 * message) and, under --trace, the `fork` message that carries the parent's mm, about 50 bytes a
 * touched page: a fork of more than some 1.3 million touched pages writes a longer line.
 */
export const historyLineBytesMax = 64 * 1024 * 1024;
/** Nesting of objects and arrays in one history line, the line's own object counted (a line vrange writes needs at most about 35: a `message` carrying a scenario step nested documentDepthMax deep). */
export const historyDepthMax = 64;
/** Characters of one string (or key) in a history line (the longest vrange writes, a decision's page name with 1,024 mappers, is some 40,000). */
export const historyStringLengthMax = 1024 * 1024;
/** Bytes of a `--schedule-file`. */
export const scheduleFileBytesMax = 8 * 1024 * 1024;
/** Bytes of a key file (`.key`, `.pub`) or of a `--trust` file. */
export const keyFileBytesMax = 1024 * 1024;
/** Nesting of maps and lists in a scenario document (a real one needs about 10). */
export const documentDepthMax = 32;
/** Maps, lists and scalars in a scenario document, all together. */
export const documentNodesMax = 4_000_000;
/** Items of one list in a scenario document (a query's expected pages: at most mmapPagesMax). */
export const documentListLengthMax = 4_000_000;
/** Keys of one map in a scenario document. */
export const documentMapKeysMax = 4_096;
/** Characters of one string (or key) in a scenario document (each field has its own, lower, limit too). */
export const documentStringLengthMax = 16_384;
/**
 * The yaml parser's guard against alias bombs (its `maxAliasCount`): for each anchored value, the
 * times it is used times the aliases it holds itself (and so on down) may not pass this. A value
 * with no alias in it may be reused any number of times; documentNodesMax bounds the rest.
 */
export const yamlAliasCountMax = 100;

/**
 * The largest frame the kernel's socket accepts (libzmq's ZMQ_MAXMSGSIZE on the Router): a peer
 * that sends a larger one is disconnected by libzmq before the frame is held in memory, so a
 * forged remote frame cannot make the kernel allocate without bound. The largest legitimate frame
 * is a fork's mm snapshot at the limits: 4,000,000 page-table entries (13 bytes each: page index,
 * frame, flags) and 1,000,000 volatile range pieces (4 numbers each), about 100 MB.
 */
export const messageBytesMax = 256 * 2 ** 20;

/** The largest `--seed` (run, explore, compare; explore's seeds count up from it modulo 2^31), and so a history's `boot.seed`. */
export const seedMax = 2 ** 31 - 1;
/** Most runs one `explore` makes (`--runs`). */
export const exploreRunsMax = 100_000;
/** Default bound on the schedules `explore --all` enumerates (`--max-schedules`). */
export const schedulesMaxDefault = 100_000;
/** Most `--depth` of `--scheduler pct` (its change points: depth-1 of them). */
export const pctDepthMax = 64;
/** Hard ceiling for `--max-schedules`. */
export const schedulesMaxCeiling = 10_000_000;
/** Shards one sweep may be split into (`explore --shard K/N`; a CI matrix has at most 256 jobs, a Kubernetes Indexed Job 100,000). */
export const shardsMax = 1_024;
/** Bytes of a shard result file (`vrange merge`), as `explore --shard` writes it. */
export const shardFileBytesMax = 256 * 1024 * 1024;

// ---- vrange play (play/)
/** Most moves one game keeps (its undo history); a scenario's own actions are bounded by runStepsMax. */
export const playMovesMax = 10_000;
/** Longest request line (path and query) the play server reads. */
export const playUrlBytesMax = 2_048;
/** Largest request body the play server reads (a move is a few bytes). */
export const playBodyBytesMax = 4_096;
/** Connections the play server keeps open at once (one driving page, a few keep-alive sockets). */
export const playConnectionsMax = 16;
/** After the driving page says it is leaving (closed, or navigated away): the game ends unless a page comes back within this. */
export const playLeaveGraceMs = 3_000;
/** The page's heartbeat interval, and how long the server waits without one before it ends the game (a background tab beats once a minute at most). */
export const playHeartbeatMs = 5_000;
export const playHeartbeatTimeoutMs = 150_000;
/** What `VRANGE_PLAY_HEARTBEAT_TIMEOUT_MS` may set the heartbeat timeout to (tests use a few seconds); the page then beats at a quarter of it, at most every playHeartbeatMs. */
export const playHeartbeatTimeoutMinMs = 1_000;
export const playHeartbeatTimeoutMaxMs = 3_600_000;
/** Most that `VRANGE_PLAY_CLASSES_HOLD_MS` may keep the classes back (a test of the page's wait for them). */
export const playClassesHoldMaxMs = 600_000;
/** Longest a request of the play server waits for a move under way (an undo replays every move) before it answers that the move is still under way. */
export const playAnswerMs = 20_000;
/** At the end of a game, a response being written (the Quit page) gets this long before every connection of the server is cut. */
export const playCloseGraceMs = 1_000;
/** Each step of the end of a game (the server closed, the run ended, the worker stopped, the session closed) within this, else a named error. */
export const playShutdownStepMs = 10_000;
/** After the end of a game, the process exits within this; past it, it says what still holds it and exits 70. */
export const playExitGraceMs = 5_000;
