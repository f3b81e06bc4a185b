// Test hooks of the agent, read from the environment once; no effect when unset. They make a real
// agent misbehave in a chosen way, so that a test can drive the kernel's answer end to end.

function table(variable: string, value: RegExp): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of (process.env[variable] ?? '').split(',')) {
    const m = value.exec(item.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

let releaseDelay: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_RELEASE_DELAY=A:300` makes process A's agent dawdle 300 ms before it goes on with a
 * step a commit released, so that a test can make the released steps' messages reach the kernel
 * in the "wrong" order (test/races.test.ts).
 */
export function testReleaseDelayMs(name: string): number {
  releaseDelay ??= table('VRANGE_TEST_RELEASE_DELAY', /^([^:]+):(\d{1,5})$/);
  return releaseDelay.get(name) ?? 0;
}

let exitAt: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_EXIT_AT=A:1` makes process A's agent exit with code 70 as it starts its step 1, as
 * an agent that hits a bug of its own does (Agent.fatal): the kernel learns it from the OS exit
 * event, in the middle of the step (test/local-bad-message.test.ts).
 */
export function testExitsAt(name: string, index: number): boolean {
  exitAt ??= table('VRANGE_TEST_EXIT_AT', /^([^:]+):(\d{1,6})$/);
  return exitAt.get(name) === index;
}

let forgedDone: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_FORGE_DONE=A:1` makes process A's agent report its step 1 as step 2 (an agent with a
 * bug): the kernel's entry finds it breaks the protocol (docs/protocol.md, Bad messages), so a test
 * sees what a local agent's bad message does to a run (test/local-bad-message.test.ts).
 */
export function testForgedDoneIndex(name: string, index: number): number {
  forgedDone ??= table('VRANGE_TEST_FORGE_DONE', /^([^:]+):(\d{1,6})$/);
  return forgedDone.get(name) === index ? index + 1 : index;
}

let slowPrepare: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_SLOW_PREPARE=A:2500` makes process A's agent block (asleep, not stopped) for 2,500 ms
 * before it answers a prepare, as an agent on a loaded machine that the OS has not run for that
 * long: the kernel must wait for it, not judge it silent (test/slow-agent.test.ts).
 */
export function testSlowPrepareMs(name: string): number {
  slowPrepare ??= table('VRANGE_TEST_SLOW_PREPARE', /^([^:]+):(\d{1,5})$/);
  return slowPrepare.get(name) ?? 0;
}

let slowCommit: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_SLOW_COMMIT=A:1500` makes process A's agent block (asleep) for 1,500 ms before it
 * takes a commit's last batch and acks it: the kernel does not wait for the ack, and collects it
 * later (test/commit-ack.test.ts).
 */
export function testSlowCommitMs(name: string): number {
  slowCommit ??= table('VRANGE_TEST_SLOW_COMMIT', /^([^:]+):(\d{1,5})$/);
  return slowCommit.get(name) ?? 0;
}

let commitViolation: Map<string, number> | undefined;
/**
 * `VRANGE_TEST_COMMIT_VIOLATION=A:1` makes process A's agent report a made-up violation in its
 * `committed` (as it would a purge of a page it did not hold), so that a test sees that an ack
 * the kernel collects after the reclaim step still reaches the verdict (test/commit-ack.test.ts).
 */
export function testCommitViolation(name: string): boolean {
  commitViolation ??= table('VRANGE_TEST_COMMIT_VIOLATION', /^([^:]+):(1)$/);
  return commitViolation.has(name);
}
