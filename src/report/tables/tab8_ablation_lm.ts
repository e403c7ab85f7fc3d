// MetaLA Tab. 8, language-model columns: the ablations (full, w/o self-augmentation, w/o short
// conv, w/ key) of the 360M model on zero-shot commonsense (paper-metala.md §5.3), beside ours:
// checkpoints of configs/lm/ablation.yaml scored with `metala eval --tasks tab5`.
import { EVAL_GROUPS } from '../../eval/groups.js';
import { ablationVariant, oursRow, paperRow, zeroShotTable } from '../eval_fields.js';

const COLS = ['LOGIQA', 'WSC273', 'BOOLQ', 'PIQA', 'HS', 'WG', 'ARC-c', 'OBQA', 'AVG'];
const row = (vals: number[]) => Object.fromEntries(COLS.map((c, i) => [c, vals[i]!]));

const PAPER: Record<string, Record<string, number>> = {
  [paperRow('MetaLA full', '0.36', '15')]: row([22.43, 58.24, 58.96, 63.82, 32.18, 53.12, 23.38, 28.0, 42.52]),
  [paperRow('MetaLA w/o self-aug', '0.36', '15')]: row([21.81, 58.61, 57.52, 64.47, 32.56, 49.41, 23.89, 29.0, 42.16]),
  [paperRow('MetaLA w/o short conv', '0.36', '15')]: row([22.58, 51.65, 49.36, 52.07, 25.82, 51.22, 26.54, 28.8, 38.51]),
  [paperRow('MetaLA w/ key', '0.36', '15')]: row([21.2, 57.88, 49.11, 63.0, 32.99, 50.99, 23.63, 27.6, 40.8]),
};

export const tab8_ablation_lm = zeroShotTable({
  id: 'tab8_ablation_lm',
  title: 'MetaLA ablations, zero-shot commonsense (MetaLA Tab. 8)',
  paperRef: 'MetaLA §6, Tab. 8 (paper-metala.md §5.3)',
  files: ['ablation_lm.csv', 'ablation_lm.md'],
  columns: EVAL_GROUPS['tab5']!.columns,
  group: 'tab5',
  paper: PAPER,
  // Our MetaLA checkpoints only (any switch setting); the variant comes from the mixer options.
  row: (r) => {
    const mixer = r.config.model?.mixer as Record<string, unknown> | undefined;
    const source = (r.config as { checkpoint?: { source?: string } }).checkpoint?.source;
    return mixer?.['name'] === 'metala' && source === 'metala' ? oursRow(r, `MetaLA ${ablationVariant(mixer)}`) : undefined;
  },
  notes: [
    'Variants: w/o self-aug = self_aug false, w/o short conv = conv_size 0, w/ key = use_key true (k = x W_K; the paper does not say how the key is parameterised, UNVERIFIED), fixed decay = decay fixed (ours only). Metrics and AVG as Tab. 5.',
    'The paper reports no perplexity for the ablations; our runs\' validation perplexity is in results/lm/ablation/<run>/summary.json.',
  ],
});
