/**
 * Per-loop handshake throttle. Thread: its loop's. Owns the queue of
 * handshakes waiting for the next turn.
 *
 * A handshake step (ECDHE plus a signature) costs far more than serving a
 * request. Each turn admits at most `perTurn` steps; the rest wait, reading
 * held, until the turn ends (setImmediate runs after the poll phase), so a
 * flood of ClientHellos cannot starve established connections: every turn
 * still serves them.
 */
export interface Deferred {
  /** Runs the deferred step; false when the connection went away meanwhile. */
  resume(): void;
}

export class HandshakeGate {
  private used = 0;
  private resetScheduled = false;
  private readonly waiting: Deferred[] = [];

  constructor(readonly perTurn: number) {}

  /** Whether a handshake step may run now; counts it when it may. */
  admit(): boolean {
    if (!this.resetScheduled) {
      this.resetScheduled = true;
      setImmediate(this.nextTurn);
    }
    if (this.used < this.perTurn && this.waiting.length === 0) {
      this.used++;
      return true;
    }
    return false;
  }

  defer(d: Deferred): void {
    this.waiting.push(d);
  }

  get queued(): number {
    return this.waiting.length;
  }

  private readonly nextTurn = (): void => {
    this.resetScheduled = false;
    this.used = 0;
    // Oldest first; what does not fit waits for the turn after.
    const batch = this.waiting.splice(0, this.perTurn);
    this.used = batch.length;
    if (this.waiting.length > 0 || batch.length > 0) {
      this.resetScheduled = true;
      setImmediate(this.nextTurn);
    }
    for (const d of batch) d.resume();
  };
}
