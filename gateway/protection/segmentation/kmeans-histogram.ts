/**
 * Deterministic k-means on a one-dimensional histogram (Lloyd's algorithm on weighted bins), the
 * clustering of the multi-region segmentation (Marwan, Kartit, Ouahmane: k-means on intensity).
 * In one dimension a cluster is an interval of bins, so each iteration is R binary searches over the
 * non-empty bins and R differences of prefix sums: the cost does not depend on the pixel count.
 */

/** The clusters found in one histogram. */
export interface HistogramClusters {
  /** Mean bin of each cluster, ascending; null for an empty cluster. */
  means: Array<number | null>;
  /** Weight (pixels) of each cluster. */
  counts: number[];
  /** Assignment steps until the assignment stopped changing (or `maxIterations`). */
  iterations: number;
  /**
   * The cluster of each bin, bins with no weight included (by the same thresholds: a histogram of a
   * sample of the pixels must still label pixels whose value the sample missed).
   */
  clusterOfBin: Uint8Array;
}

/** Lloyd iterations at most (one-dimensional k-means converges in a few dozen at worst). */
export const MAX_ITERATIONS = 100;

/**
 * Clusters the bins of `histogram` (bin index = intensity, value = weight) into `clusters`
 * intervals, cluster 0 the lowest. Initialisation: {@link initialCentroids}. Empty clusters keep
 * their centroid; there are some only when fewer than R bins have weight.
 */
export function kmeansHistogram(histogram: Uint32Array, clusters: number, maxIterations = MAX_ITERATIONS): HistogramClusters {
  let used = 0;
  for (let bin = 0; bin < histogram.length; bin++) if (histogram[bin] !== 0) used++;
  const values = new Float64Array(used);
  const cumCount = new Float64Array(used + 1);
  const cumSum = new Float64Array(used + 1);
  for (let bin = 0, i = 0; bin < histogram.length; bin++) {
    const weight = histogram[bin];
    if (weight === 0) continue;
    values[i] = bin;
    cumCount[i + 1] = cumCount[i] + weight;
    cumSum[i + 1] = cumSum[i] + weight * bin;
    i++;
  }

  const centroids = initialCentroids(values, cumCount, clusters);
  // bounds[j]..bounds[j + 1] are the indices (into values) of cluster j's bins.
  const bounds = new Int32Array(clusters + 1);
  const previous = new Int32Array(clusters + 1);
  // thresholds[j]: bins above it belong to cluster j + 1 or higher (those the final bounds came from).
  const thresholds = new Float64Array(Math.max(0, clusters - 1)).fill(Infinity);
  bounds[clusters] = used;
  let iterations = 0;
  while (iterations < maxIterations) {
    iterations++;
    previous.set(bounds);
    for (let j = 1; j < clusters; j++) {
      const threshold = Math.max((centroids[j - 1] + centroids[j]) / 2, j > 1 ? thresholds[j - 2] : -Infinity);
      thresholds[j - 1] = threshold;
      bounds[j] = Math.max(bounds[j - 1], firstAbove(values, threshold));
    }
    let changed = iterations === 1;
    for (let j = 1; j < clusters; j++) if (bounds[j] !== previous[j]) changed = true;
    if (!changed) break;
    for (let j = 0; j < clusters; j++) {
      const weight = cumCount[bounds[j + 1]] - cumCount[bounds[j]];
      if (weight > 0) centroids[j] = (cumSum[bounds[j + 1]] - cumSum[bounds[j]]) / weight;
    }
  }

  const clusterOfBin = new Uint8Array(histogram.length);
  for (let bin = 0, j = 0; bin < histogram.length; bin++) {
    while (j < clusters - 1 && bin > thresholds[j]) j++;
    clusterOfBin[bin] = j;
  }
  const means: Array<number | null> = [];
  const counts: number[] = [];
  for (let j = 0; j < clusters; j++) {
    const weight = cumCount[bounds[j + 1]] - cumCount[bounds[j]];
    counts.push(weight);
    means.push(weight > 0 ? (cumSum[bounds[j + 1]] - cumSum[bounds[j]]) / weight : null);
  }
  return { means, counts, iterations, clusterOfBin };
}

/**
 * Deterministic k-means++ (greedy): the heaviest bin first, then each time the bin that maximises
 * weight x squared distance to the nearest chosen centroid (the lowest bin on ties), ascending.
 * Unlike quantiles it does not put several centroids into one dominant mode (the air of a CT).
 */
function initialCentroids(values: Float64Array, cumCount: Float64Array, clusters: number): Float64Array {
  const used = values.length;
  const centroids = new Float64Array(clusters);
  if (used < clusters) {
    // Fewer bins than clusters: one cluster per bin; the others sit above the highest bin and stay empty.
    const top = used > 0 ? values[used - 1] : 0;
    for (let j = 0; j < clusters; j++) centroids[j] = j < used ? values[j] : top + 1 + j;
    return centroids;
  }
  const weights = new Float64Array(used);
  let heaviest = 0;
  for (let i = 0; i < used; i++) {
    weights[i] = cumCount[i + 1] - cumCount[i];
    if (weights[i] > weights[heaviest]) heaviest = i;
  }
  const nearest = new Float64Array(used).fill(Infinity);
  let chosen = heaviest;
  for (let j = 0; j < clusters; j++) {
    const centroid = values[chosen];
    centroids[j] = centroid;
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < used; i++) {
      const d = values[i] - centroid;
      if (d * d < nearest[i]) nearest[i] = d * d;
      const score = weights[i] * nearest[i];
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    chosen = best;
  }
  return centroids.sort();
}

/** The index of the first value greater than `threshold` (values ascending). */
function firstAbove(values: Float64Array, threshold: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] > threshold) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
