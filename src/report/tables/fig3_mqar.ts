// MetaLA Fig. 3: MQAR accuracy vs d_model at seq 256 (16 KV pairs) and seq 512 (64 KV pairs),
// protocol from Zoology's ICLR24 Figure 2 (paper-metala.md §5.1, reference-implementations.md §2.2).
// Cell = max test accuracy over the LR sweep, as the paper reports and Zoology's plots compute.
import type { Key } from '../types.js';
import {
  BEST_RUN_DETAILS_WITH_EPOCHS,
  bestAccuracyPct,
  compareMixerLabels,
  dModelDim,
  kvPairsDim,
  mixerDim,
  pct1,
  seqLenDim,
  taskName,
} from '../fields.js';
import { defineTable } from '../types.js';
import { isMqarHard } from './taba7_mqar_hard.js';

// INFERRED pairing (paper-metala.md §5.1): seq 256 ↔ 16 pairs, seq 512 ↔ 64 pairs.
const FIG3_SETTINGS: readonly (readonly [number, number])[] = [
  [256, 16],
  [512, 64],
];

function settingRank(seqLen: Key, kv: Key): number {
  const i = FIG3_SETTINGS.findIndex(([t, k]) => t === seqLen && k === kv);
  return i < 0 ? FIG3_SETTINGS.length : i;
}

/** Fig. 3's settings first, then any other (T, kv) group (smoke or extra runs), then d_model. */
function compareColumns(a: readonly Key[], b: readonly Key[]): number {
  const [ta, ka, da] = a as [number, number, number];
  const [tb, kb, db] = b as [number, number, number];
  return settingRank(ta, ka) - settingRank(tb, kb) || ta - tb || ka - kb || da - db;
}

export const fig3_mqar = defineTable({
  id: 'fig3_mqar',
  title: 'MQAR accuracy (%) by d_model (MetaLA Fig. 3)',
  paperRef: 'MetaLA §6, Fig. 3 (protocol: Zoology ICLR24 Fig. 2; paper-metala.md §5.1)',
  files: ['mqar.csv', 'mqar.md'],
  // Every MQAR run except Tab. A7's harder setting, so smoke runs show up too.
  // Ablation variants (configs/ablation.yaml) have their own table (tab8_ablation).
  select: (r) => taskName(r) === 'mqar' && !isMqarHard(r) && (r.config.variant === undefined || r.config.variant === null),
  row: mixerDim,
  columns: [seqLenDim, kvPairsDim, dModelDim],
  columnLabel: ([t, kv, d]) => `T=${String(t)} kv=${String(kv)} d=${String(d)}`,
  compareColumns,
  compareRows: compareMixerLabels,
  valueName: 'accuracy',
  value: bestAccuracyPct,
  aggregate: 'max',
  format: pct1,
  bestRunDetails: BEST_RUN_DETAILS_WITH_EPOCHS,
  notes: [
    'Cell = max of summary.best.accuracy over the runs of the cell (the LR sweep: np.logspace(-4, -2, 4), plus np.logspace(-5, -3, 4) at seq 512). How many runs each cell maxed over (n_runs), the best run\'s lr (best_lr) and the epochs it trained (best_epochs) are in mqar.csv, one line per cell.',
    'Fig. 3 settings are T=256 kv=16 and T=512 kv=64; other (T, kv) columns are extra runs (e.g. smoke configs) and come after them.',
    'Runs of configs/mqar-short.yaml (experiment mqar/fig3-short) use a cut budget on one GPU (an H100, and from the fifth session an H200 with the same compute and more memory bandwidth; each cell\'s best_device in mqar.csv says which): one or two lrs per length (see the config) and 3 / 2 epochs instead of 64 (the first session\'s T=256 runs: 4); those stopped by --max-minutes show `*`, and their steps reached are in each run\'s summary.json. Early MQAR accuracy stays near 0 until the model finds the recall mechanism, so unfinished cells say nothing about the ranking.',
    'Runs of configs/mqar-fig3-t256.yaml (experiment mqar/fig3-t256) follow the protocol at T=256 with the paper\'s four lrs for all six mixers at d 64 and 128, except: 16 epochs instead of 64 (the cosine spans those 16). The four lrs of a cell train as one stacked model (train.stack), which gives each run the numbers it has alone (tested), so stacking is no difference from the protocol. Runs of it stopped by a session\'s GPU budget are committed with status interrupted (starred) but without their checkpoints, so they train again from step 0.',
    'No paper column: Fig. 3 gives its numbers only as bars (UNVERIFIED, paper-metala.md §5.1); the paper states attention > 99.0 in both settings and MetaLA above Based, GLA, RWKV-4 and Mamba.',
  ],
});
