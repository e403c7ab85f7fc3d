// The PIQA fixture rows (written for metala, not taken from PIQA), stored as Parquet in
// test/fixtures/eval/piqa/validation.parquet with the HF columns goal, sol1, sol2, label (int64).
// test/eval/data.test.ts checks that the committed file is exactly writeParquet(these rows).
import { writeParquet } from './parquet_writer.js';

export const PIQA_ROWS = {
  goal: ['How do you keep bread from going stale?', 'To cool a cup of tea quickly,', 'How can you find a lost screw on a carpet?', 'To open a tight jar lid,'],
  sol1: ['Store it in a sealed bag at room temperature.', 'pour it into a wide bowl and let it rest.', 'Sweep a magnet slowly over the carpet.', 'freeze the jar for a week.'],
  sol2: ['Leave it on a sunny windowsill without a cover.', 'put the lid on and wrap it in a towel.', 'Pour water over the carpet.', 'tap the edge of the lid on the counter, then twist.'],
  label: [0, 0, 0, 1],
};

export function piqaParquet(): Buffer {
  return writeParquet([
    { name: 'goal', kind: 'string', values: PIQA_ROWS.goal },
    { name: 'sol1', kind: 'string', values: PIQA_ROWS.sol1 },
    { name: 'sol2', kind: 'string', values: PIQA_ROWS.sol2 },
    { name: 'label', kind: 'int64', values: PIQA_ROWS.label },
  ]);
}
