/**
 * Runs `pydicom-render.py` once over a list of render requests with the system Python (which has
 * pydicom and numpy) and returns its reference renderings: 8-bit samples, grayscale or RGB.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What to render of a file: the frame (1-based) and the window (center, width, function) or the instance's own. */
export interface ReferenceRequest {
  file: string;
  frame: number;
  window: [number, number, 'linear' | 'linear-exact' | 'sigmoid'] | null;
}

/** A reference rendering: `channels` samples per pixel (1 grayscale, 3 RGB), row by row. */
export interface ReferenceImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Buffer;
}

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pydicom-render.py', import.meta.url));

/** The reference rendering of every request, computed by one Python process; throws pydicom's error for one it cannot make. */
export function pydicomRenderings(requests: ReferenceRequest[]): ReferenceImage[] {
  const run = spawnSync(PYTHON, [SCRIPT], { input: requests.map((r) => JSON.stringify(r)).join('\n'), maxBuffer: 1 << 28, encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`${PYTHON} ${SCRIPT} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}\npydicom and numpy are needed: apt-get install -y python3-pydicom python3-numpy`);
  }
  const { images } = JSON.parse(run.stdout) as { images: Array<{ error: string } | { width: number; height: number; channels: 1 | 3; pixels: string }> };
  return images.map((image, i) => {
    if ('error' in image) throw new Error(`pydicom cannot render ${JSON.stringify(requests[i])}: ${image.error}`);
    return { ...image, pixels: Buffer.from(image.pixels, 'base64') };
  });
}
