import type { BatchTiming } from '@sluice/core/internal';

/** One (job, step) series: the count in each bucket (not cumulative; the last is above every bound), sum and count. */
interface Series {
  readonly labels: { readonly job: string; readonly step: string };
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A sample as prom-client's registry formats it (the shape its Histogram hands it). */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
  readonly exemplar?: null;
}

/**
 * `sluice_batch_duration_seconds`: counted into plain numbers per (job, step) as timings arrive,
 * turned into samples only when scraped or pushed. prom-client's Histogram validates the labels,
 * hashes them and looks the bucket up by a number-keyed property on every `observe`; here a timing
 * is a Map lookup, a walk of the bounds and three increments. The registry reads it as it reads a
 * Histogram (`getForPromString`, `get`): the exposition is the same text, series in the order first
 * seen, buckets cumulative with `+Inf`, then `_sum` and `_count` (batch-durations.test.ts compares
 * the two).
 */
export class BatchDurations {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** A timing listener for `job` (label values redacted, once per step). */
  listener(job: string, redact: (text: string) => string): (timing: BatchTiming) => void {
    const steps = new Map<string | undefined, Series>();
    const bounds = this.bounds;
    return (t) => {
      let s = steps.get(t.step);
      if (!s) steps.set(t.step, (s = this.seriesOf(job, t.step === undefined ? '*' : redact(t.step))));
      const seconds = t.ms / 1000;
      // A timing is a difference of clock readings: always a finite number, so no check per call.
      let i = 0;
      while (i < bounds.length && seconds > bounds[i]!) i++;
      s.counts[i]!++;
      s.sum += seconds;
      s.count++;
    };
  }

  /** Another attempt or thread of the same job and step adds to the same series. */
  private seriesOf(job: string, step: string): Series {
    const key = `${job}\u0000${step}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: { job, step }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    return s;
  }

  /** What the registry formats: prom-client Histogram's `getForPromString` shape. */
  getForPromString(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels: s.labels, value: cumulative, metricName: bucket, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client's `get()` shape (the shared labels in each sample's own), for `getMetricsAsJSON`. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<Omit<Sample, 'sharedLabels'>> } {
    const data = this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }

  reset(): void {
    this.series.clear();
  }
}
