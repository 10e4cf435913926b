// The virtual Pico's clock: host time since the board's power-up plus an offset that every VM of
// one board carries on (the supervisor keeps it between VMs). A cnn_helper call moves it by
// exactly the RP2040 estimate, whatever it took here. The Python between a clock read and the
// call that follows it at once (and between the call and the read right after it) is absorbed:
// `monotonic_ns()` before and after the call differ by the estimate, not by the estimate plus
// the host's hiccups.

/** Longest host gap still "at once". */
const ABSORB_NS = 100_000_000n;

export class VirtualClock {
  /** Calls into the host so far: "at once" means no other host call in between. */
  private calls = 0;
  private lastRead: { host: bigint; virtual: bigint; call: number } | undefined;
  /** The virtual time a cnn_helper call ended at, kept for a clock read that follows at once. */
  private callEnd: { host: bigint; virtual: bigint; call: number } | undefined;
  /** A cnn_helper call in progress: the virtual time it started at, and what it costs on the board once known. */
  private call: { virtualStart: bigint; simulatedMs?: number } | undefined;

  /** `onOffset`: the offset changed (the supervisor keeps it for the next VM). */
  constructor(private readonly bootHrtime: bigint, private offset: bigint, private readonly onOffset: (offset: bigint) => void) {}

  /** Every call into the host counts (see "at once"). */
  countCall(): void {
    this.calls++;
  }

  private hostNow(): bigint {
    return process.hrtime.bigint() - this.bootHrtime;
  }

  private shift(by: bigint): void {
    if (by === 0n) return;
    this.offset += by;
    this.onOffset(this.offset);
  }

  monotonicNs(): bigint {
    const host = this.hostNow();
    let virtual = host + this.offset;
    if (this.callEnd && this.callEnd.call === this.calls - 1 && host - this.callEnd.host < ABSORB_NS) {
      this.shift(this.callEnd.virtual - virtual);
      virtual = this.callEnd.virtual;
    }
    this.callEnd = undefined;
    this.lastRead = { host, virtual, call: this.calls };
    return virtual;
  }

  beginCall(): void {
    const host = this.hostNow();
    const atOnce = this.lastRead && this.lastRead.call === this.calls - 1 && host - this.lastRead.host < ABSORB_NS;
    this.call = { virtualStart: atOnce ? this.lastRead!.virtual : host + this.offset };
  }

  /** What the call in progress costs on the board. */
  charge(simulatedMs: number): void {
    if (this.call) this.call.simulatedMs = simulatedMs;
  }

  endCall(): void {
    if (this.call?.simulatedMs !== undefined) {
      const host = this.hostNow();
      const target = this.call.virtualStart + BigInt(Math.round(this.call.simulatedMs * 1e6));
      this.shift(target - (host + this.offset));
      this.callEnd = { host, virtual: target, call: this.calls };
    }
    this.call = undefined;
  }
}
