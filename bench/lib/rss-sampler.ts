/**
 * The peak resident memory of a whole server: the VmRSS of its process and all its descendants,
 * summed at each sample (every {@link SAMPLE_MS}), and the largest such sum. Unlike the sum of
 * each process's own peak (VmHWM), which may come from different moments, it is a memory the
 * machine had to hold at once. A spike shorter than the interval can be missed; both servers of a
 * comparison are sampled alike.
 */
import { currentRssBytes } from '../../test/support/orthanc.js';

/** Milliseconds between samples. */
export const SAMPLE_MS = 50;

/** Samples a process tree until stopped. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  /** The largest summed RSS so far, in bytes (sampled once more now). */
  peakBytes(): number {
    this.sample();
    return this.peak;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, currentRssBytes(this.pid));
    } catch {
      // exited meanwhile: the peak stays what it was
    }
  }
}
