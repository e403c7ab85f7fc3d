// `metala data`: make, fetch and verify data sets (DESIGN.md §4; registry in src/cli/datasets.ts).
//   metala data                    list the data sets and whether their files are present
//   metala data <name>             generated: make it (skipped when present, --force remakes); fetched: verify it
//   metala data fetch <name>       download the official files (resumable, checksum-verified) and unpack them
import { Command } from 'commander';

interface MakeFlags {
  seed: string;
  count?: string;
  force: boolean;
  dir?: string;
}

/** An integer flag, or the one-line problem with it. */
function int(flag: string, v: string | undefined, min: number): number | undefined | string {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= min ? n : `${flag}: expected an integer ≥ ${min}, got '${v}'. Fix the value`;
}

async function load() {
  const [{ DATASETS, getDataset }, { datasetCache, makeCommand }, { MetalaError }] = await Promise.all([
    import('../datasets.js'),
    import('../../data/paths.js'),
    import('../../util/errors.js'),
  ]);
  return { DATASETS, getDataset, datasetCache, makeCommand, MetalaError };
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

async function status(dir: string, check: ((d: string) => Promise<string>) | undefined): Promise<string | undefined> {
  if (check === undefined) return undefined;
  try {
    return await check(dir);
  } catch {
    return undefined;
  }
}

export function dataCommand(): Command {
  const cmd = new Command('data')
    .description('make (generated) or verify (fetched) a data set; `data fetch <name>` downloads one; no name lists them')
    .argument('[name]', 'data set (see `metala data`)')
    .option('--seed <n>', 'seed of generated data', '0')
    .option('--count <n>', 'examples to generate (default: the benchmark size)')
    .option('--force', 'remake even if the files are present', false)
    .option('--dir <path>', 'output folder (default: datasets/<folder>/cache)')
    .action(async (name: string | undefined, o: MakeFlags) => {
      const { DATASETS, getDataset, datasetCache, makeCommand, MetalaError } = await load();
      if (name === undefined) {
        for (const d of Object.values(DATASETS)) {
          const ok = await status(datasetCache(d.folder), d.check);
          process.stdout.write(`${d.name.padEnd(18)} ${d.kind.padEnd(9)} ${ok !== undefined ? 'present ' : 'missing '} ${d.description}\n`);
        }
        process.stdout.write('make one: metala data <name> (generated) / metala data fetch <name> (fetched)\n');
        return;
      }
      const d = getDataset(name);
      const dir = o.dir ?? datasetCache(d.folder);
      if (d.kind === 'fetched') {
        const ok = await status(dir, d.check);
        if (ok === undefined) throw new MetalaError(`${name}: not present (or incomplete) in ${dir}. Download it with: ${makeCommand(name, 'fetched')}`);
        process.stdout.write(`${ok}\n`);
        return;
      }
      if (!o.force) {
        const ok = await status(dir, d.check);
        if (ok !== undefined) {
          process.stdout.write(`${ok} (present; --force remakes it)\n`);
          return;
        }
      }
      const seed = int('--seed', o.seed, 0);
      const count = int('--count', o.count, 1);
      for (const v of [seed, count]) if (typeof v === 'string') throw new MetalaError(v);
      const line = await d.make!({ dir, seed: (seed as number | undefined) ?? 0, count: count as number | undefined, force: o.force, log: say });
      process.stdout.write(`${line}\n`);
    });

  cmd
    .command('fetch')
    .description('download a data set from its official source into datasets/<folder>/cache (resumable), verify its checksum, unpack it')
    .argument('<name>', 'data set (see `metala data`)')
    .option('--force', 'unpack again even if the files are present', false)
    .option('--dir <path>', 'output folder (default: datasets/<folder>/cache)')
    .action(async (name: string, sub: { force: boolean; dir?: string }) => {
      // `data` has the same --dir/--force options, and commander gives flags after the
      // subcommand's name to the parent unless positional options are on: read both.
      const parent = cmd.opts() as { force?: boolean; dir?: string };
      const o = { force: sub.force || parent.force === true, dir: sub.dir ?? parent.dir };
      const { getDataset, datasetCache, makeCommand, MetalaError } = await load();
      const { downloadFile } = await import('../../data/download.js');
      const { join } = await import('node:path');
      const d = getDataset(name);
      if (d.kind !== 'fetched' || d.files === undefined) {
        throw new MetalaError(`${name}: is generated, not fetched. Make it with: ${makeCommand(name, 'generated')}`);
      }
      const dir = o.dir ?? datasetCache(d.folder);
      for (const f of d.files) {
        let last = 0;
        const r = await downloadFile({
          url: f.url,
          dest: join(dir, f.dest),
          sha256: f.sha256,
          size: f.size,
          retry: makeCommand(name, 'fetched'),
          onProgress: (done, total) => {
            if (Date.now() - last < 2000) return;
            last = Date.now();
            say(`${f.dest}: ${(done / 2 ** 20).toFixed(0)}${total !== undefined ? ` / ${(total / 2 ** 20).toFixed(0)}` : ''} MiB`);
          },
        });
        const sum = r.sha256 !== undefined ? ` sha256 ${r.sha256}${f.sha256 === undefined ? ' (no published checksum to compare)' : ' (verified)'}` : '';
        say(`${f.dest}: ${r.status}, ${r.bytes} bytes${sum}`);
      }
      const present = o.force ? undefined : await status(dir, d.check);
      process.stdout.write(`${present ?? (await d.make!({ dir, seed: 0, force: o.force, log: say }))}\n`);
    });
  return cmd;
}
