/**
 * Timers of one EventLoop: a binary min-heap of deadlines driven by a single
 * unref'd Node timer armed for the earliest one. Thread: its loop's.
 * Owns the heap; cancelled timers are dropped lazily when they reach the top,
 * so cancel is O(1) and 100k idle-connection timers cost one heap entry each.
 */
export class Timer {
  cancelled = false;
  constructor(
    public when: number,
    readonly interval: number,
    readonly callback: () => void,
    readonly seq: number,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
}

export class TimerQueue {
  private heap: Timer[] = [];
  private seq = 0;
  private armedFor = Infinity;
  private nodeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly now: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(delayMs: number, interval: number, cb: () => void): Timer {
    if (this.closed) throw new Error('TimerQueue: the loop has quit');
    const t = new Timer(this.now() + Math.max(0, delayMs), interval, cb, this.seq++);
    this.push(t);
    this.arm();
    return t;
  }

  /** Runs every timer due by now; re-inserts repeating ones. */
  runDue(): void {
    const now = this.now();
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (top.cancelled) {
        this.pop();
        continue;
      }
      if (top.when > now) break;
      this.pop();
      if (top.interval > 0) {
        top.when = now + top.interval;
        this.push(top);
      } else {
        top.cancelled = true;
      }
      try {
        top.callback();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    for (const t of this.heap) t.cancelled = true;
    this.heap = [];
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    this.nodeTimer = undefined;
  }

  private arm(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    const next = this.heap.length > 0 ? this.heap[0]!.when : Infinity;
    if (next === this.armedFor) return;
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    this.nodeTimer = undefined;
    this.armedFor = next;
    if (next === Infinity || this.closed) return;
    const delay = Math.max(0, Math.ceil(next - this.now()));
    this.nodeTimer = setTimeout(() => {
      this.armedFor = Infinity;
      this.nodeTimer = undefined;
      this.runDue();
    }, delay);
    // The epoll watch keeps the thread alive while the loop runs; a timer alone must not.
    this.nodeTimer.unref();
  }

  private less(a: Timer, b: Timer): boolean {
    return a.when < b.when || (a.when === b.when && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
