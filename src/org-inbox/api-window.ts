// The org's count of API calls in the current one-minute window, kept by its OrgInbox
// and fed by every isolate's OrgBudget (src/middleware/rate-limit.ts).

export type Spend = { total: number; granted: boolean };

/** What OrgInbox keeps: the count of the current window (memory only; an evicted object starts the window over). */
export class ApiWindow {
  private start = 0;
  private total = 0;

  spend(windowStart: number, spent: number, want: number, limit: number): Spend {
    if (windowStart < this.start) return { total: 0, granted: want > 0 }; // a report from a window already over
    if (windowStart > this.start) {
      this.start = windowStart;
      this.total = 0;
    }
    this.total += spent;
    const granted = want > 0 && this.total < limit;
    if (granted) this.total += want;
    return { total: this.total, granted };
  }
}
