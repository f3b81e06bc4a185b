// The progress bar of the long commands (`explore`, `explore --all`), written to a terminal's
// stderr only: `\r[#####     ] done/total`, redrawn in place, and a newline when done.

/** Characters of the bar between its brackets. */
export const progressBarWidth = 30;

/** The text that redraws the bar at `done` of `total` (ends the line once done === total). */
export function progressBar(done: number, total: number, width = progressBarWidth): string {
  if (!(total > 0) || done < 0 || done > total) throw new Error(`progressBar: done must be 0..total and total > 0, got ${done}/${total}`);
  const filled = Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`;
}
