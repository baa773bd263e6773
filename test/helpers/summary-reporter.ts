// Prints one plain closing line, "N passed, N failed" (", N skipped" when any), after the run:
// the form CI reads in any language, next to vitest's own coloured summary.
import type { Reporter, File, Task } from 'vitest';

function count(tasks: Task[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === 'suite') {
      count(task.tasks, totals);
      continue;
    }
    const state = task.result?.state;
    if (state === 'pass') totals.passed++;
    else if (state === 'fail') totals.failed++;
    else totals.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: File[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    // A file that failed to load (or an unhandled error) is a failure even without a failed test.
    const failed = totals.failed + files.filter((f) => f.result?.state === 'fail' && f.tasks.length === 0).length + errors.length;
    process.stdout.write(`\n${totals.passed} passed, ${failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}\n`);
  }
}
