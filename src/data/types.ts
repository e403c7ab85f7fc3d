// The data-set contract (DESIGN.md §4): one entry per data set that `metala data` can generate,
// fetch or verify, listed once in registry.ts. Loaders name the entry in their "missing data" error,
// so a user always gets the exact command that makes the files.

/** A file fetched from its official source, stored under the data set's cache folder. */
export interface DatasetFile {
  url: string;
  /** Path relative to the data set's cache folder. */
  dest: string;
  /** Hex sha256, when published or recorded by us; omitted when unknown (never guessed). */
  sha256?: string;
  /** Size in bytes, when known. */
  size?: number;
}

export interface MakeOptions {
  /** The data set's cache folder (datasets/<folder>/cache, or under $METALA_DATASETS). */
  dir: string;
  /** Seed of generated data. */
  seed: number;
  /** Examples to generate in total (generated sets); undefined = the benchmark's size. */
  count?: number;
  /** Regenerate / re-unpack even when the output exists. */
  force: boolean;
  /** Progress lines for the user (stderr). */
  log: (line: string) => void;
}

export interface DatasetDef {
  /** CLI name: `metala data <name>`, `metala data fetch <name>`. */
  name: string;
  description: string;
  kind: 'generated' | 'fetched';
  /** Folder under datasets/ (holds README.md; data goes to its cache/ subfolder, git-ignored). */
  folder: string;
  /** Fetched sets: the official files. */
  files?: DatasetFile[];
  /** Generated sets: write the files; fetched sets: unpack the downloaded files. Returns a summary line. */
  make?(opts: MakeOptions): Promise<string>;
  /** Verify the files are present and readable; returns a summary line or throws an InputError. */
  check?(dir: string): Promise<string>;
}

export function defineDataset(def: DatasetDef): DatasetDef {
  return def;
}
