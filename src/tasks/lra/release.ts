// The LRA release archive (google-research/long-range-arena README; reference-implementations.md §3.1):
// one gzipped tar, `lra_release.gz` (≈7.7 GB), with ListOps (listops-1000/), the AAN pairs for
// Retrieval (tsv_data/) and the Pathfinder images (pathfinder{32,64,128,256}/). We unpack only what
// the tasks read: ListOps, the AAN TSVs, and the `hard` Pathfinder folders of 32 and 128 (Path-X).
import { join } from 'node:path';
import { extractTar } from '../../data/tar.js';

export const RELEASE_DATASET = 'lra-release';
export const RELEASE_FOLDER = 'lra_release';
export const RELEASE_URL = 'https://storage.googleapis.com/long-range-arena/lra_release.gz';
export const RELEASE_ARCHIVE = 'lra_release.gz';

/**
 * Output path of an archive member, or null to skip it. Members may sit under a top-level
 * `lra_release/` folder; that prefix is dropped so the layout is `<cache>/listops-1000/…`.
 */
export function releaseMember(path: string): string | null {
  const p = path.replace(/^(\.\/)?lra_release\//, '');
  if (/^listops-1000\/[^/]+\.tsv$/.test(p)) return p;
  if (/^tsv_data\/new_aan_pairs\.(train|eval|test)\.tsv$/.test(p)) return p;
  if (/^pathfinder(32|128)\/curv_contour_length_14\/(metadata\/[^/]+\.npy|imgs\/\d+\/[^/]+\.png)$/.test(p)) return p;
  return null;
}

/** Stream the archive once and write the kept members under `cache`. */
export async function unpackRelease(cache: string, log: (s: string) => void): Promise<string> {
  const r = await extractTar(join(cache, RELEASE_ARCHIVE), cache, { gzip: true, filter: (e) => releaseMember(e.path) });
  log(`unpacked ${r.files} files (${(r.bytes / 2 ** 20).toFixed(0)} MiB) into ${cache}`);
  return `LRA release: ${r.files} files in ${cache} (listops-1000/, tsv_data/, pathfinder32|128/curv_contour_length_14/)`;
}
