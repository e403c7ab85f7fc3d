// `metala inspect DIR`: load a checkpoint folder (official MetaLA release or ours), print its
// architecture and parameter count, and check that its parallel and recurrent forms agree.
import { Command, Option } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/types.js';
import { positiveInt } from '../options.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('load a checkpoint folder, print its architecture, and self-check parallel vs recurrent logits')
    .argument('<dir>', 'folder with config.json and model.safetensors')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS).default('auto'))
    .option('--tokens <n>', 'length of the self-check sequence', positiveInt('--tokens 16'), 16)
    .option('--golden <file>', 'also compare with reference logits: JSON {input_ids, logits, prefill?, decode_logits?}')
    .action(async (dir: string, o: { backend: BackendName; tokens: number; golden?: string }) => {
      const { initBackend } = await import('../../backend/index.js');
      const { loadCheckpoint } = await import('../../checkpoint/io.js');
      const info = await initBackend(o.backend);
      const model = await loadCheckpoint(dir);
      const c = model.config;
      process.stdout.write(
        `${dir}: ${c.n_layers} layers, d_model ${c.d_model}, vocab ${c.vocab_size}, mixer ${JSON.stringify(c.mixer)}, ` +
          `channel mixer ${c.channel_mixer.name}, ${c.tie_embeddings ? 'tied' : 'untied'} head, ${model.params.count().toLocaleString('en-US')} parameters (${info.backend})\n`,
      );
      const ids = [Array.from({ length: o.tokens }, (_, i) => (i * 131 + 7) % c.vocab_size)];
      const par = (await model.logits(ids))[0]!;
      const dec = model.decoder();
      let maxErr = 0;
      for (let t = 0; t < o.tokens; t++) {
        const row = (await dec.step([ids[0]![t]!]))[0]!;
        for (let v = 0; v < row.length; v++) maxErr = Math.max(maxErr, Math.abs(row[v]! - par[t]![v]!));
      }
      dec.dispose();
      process.stdout.write(`parallel vs recurrent logits over ${o.tokens} tokens: max abs difference ${maxErr.toExponential(2)}\n`);
      if (o.golden !== undefined) {
        const { compareGolden } = await import('../golden.js');
        process.stdout.write(`${await compareGolden(model, o.golden)}\n`);
      }
      model.dispose();
    });
}
