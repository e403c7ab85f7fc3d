// Prompt rendering: for one fixture item of every task, the (context, continuation) pairs and the
// gold index equal what lm-evaluation-harness v0.4 builds from the same document (its YAML
// templates and utils.py helpers, reference-implementations.md §4.2), written out by hand here.
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { loadTaskDocs } from '../../src/eval/docs.js';
import { buildRequests } from '../../src/eval/requests.js';
import { listTaskConfigs, loadTaskConfig } from '../../src/eval/task_config.js';

const DATA = resolve('test/fixtures/eval');
const DIR = resolve('configs/tasks');

async function requestsOf(task: string, index = 0) {
  const cfg = loadTaskConfig(task, DIR);
  const { docs } = await loadTaskDocs(cfg, DATA);
  return buildRequests(cfg, docs[index]!);
}

const mc = (ctx: string, choices: string[], gold: number) => ({ pairs: choices.map((c) => [ctx, ` ${c}`]), gold });

const EXPECTED: Record<string, { index?: number; pairs: string[][]; gold: number }> = {
  piqa: mc('Question: How do you keep bread from going stale?\nAnswer:', ['Store it in a sealed bag at room temperature.', 'Leave it on a sunny windowsill without a cover.'], 0),
  hellaswag: {
    index: 1,
    ...mc(
      'Home and Garden: How to water a cactus. Check the soil first. Push a finger into the pot.',
      ['If it feels dry , pour in a little water.', 'Sing loudly to the cactus every hour.', 'Replace the soil with sugar.', 'Freeze the pot overnight.'],
      0,
    ),
  },
  winogrande: {
    pairs: [
      ['The bottle did not fit in the bag because the bottle', ' was too small.'],
      ['The bottle did not fit in the bag because the bag', ' was too small.'],
    ],
    gold: 1,
  },
  wsc273: {
    pairs: [
      ['The trophy would not fit in the box because the trophy', '  was too big.'],
      ['The trophy would not fit in the box because the box', '  was too big.'],
    ],
    gold: 0,
  },
  logiqa: mc(
    'Passage: Every gardener in the village grows tomatoes. Rosa lives in the village and grows beans.\nQuestion: Which statement must be true?\nChoices:\nA. Rosa grows tomatoes.\nB. Rosa is not a gardener.\nC. If Rosa is a gardener, she grows tomatoes.\nD. Nobody in the village grows beans.\nAnswer:',
    ['Rosa grows tomatoes.', 'Rosa is not a gardener.', 'If Rosa is a gardener, she grows tomatoes.', 'Nobody in the village grows beans.'],
    2,
  ),
  arc_easy: { index: 1, ...mc('Question: What happens to water when it is heated to boiling?\nAnswer:', ['It freezes.', 'It turns into steam.', 'It becomes heavier.', 'It turns into salt.'], 1) },
  arc_challenge: mc(
    'Question: A student pushes a toy car across a rug and then across a smooth floor with the same force. Why does the car travel farther on the floor?\nAnswer:',
    ['The floor has less friction.', 'The rug is lighter.', 'The car is heavier on the floor.', 'Gravity is weaker on the floor.'],
    0,
  ),
  openbookqa: { index: 1, ...mc('Seeds are often carried to new places by', ['rocks', 'animals', 'clocks', 'mirrors'], 1) },
  lambada: { pairs: [['She opened the old wooden chest slowly, afraid of what might be inside. Under a layer of dust she found a small silver', ' key']], gold: 0 },
  boolq: mc('Tomato -- In botany the tomato is the berry of a plant in the nightshade family, although it is cooked and eaten as a vegetable.\nQuestion: is a tomato a fruit?\nAnswer:', ['no', 'yes'], 1),
  cb: mc('Mia said she had finished the report before lunch.\nQuestion: Mia finished the report. True, False, or Neither?\nAnswer:', ['True', 'False', 'Neither'], 0),
  copa: { pairs: [['The glass fell off the table therefore', '  it shattered on the floor.'], ['The glass fell off the table therefore', '  it filled with juice.']], gold: 0 },
  multirc: mc(
    'Lena planted a row of sunflowers in May. By August the flowers were taller than the fence, and birds came every morning to eat the seeds.\nQuestion: What visited the garden in the mornings?\nAnswer:',
    ['Birds\nIs the answer correct? no', 'Birds\nIs the answer correct? yes'],
    1,
  ),
  rte: mc('The city council approved a new park on the river bank last Monday.\nQuestion: A new park was approved by the city council. True or False?\nAnswer:', ['True', 'False'], 0),
  wic: mc(
    "Sentence 1: We sat on the bank of the river.\nSentence 2: She put her savings in the bank.\nQuestion: Is the word 'bank' used in the same way in the two sentences above?\nAnswer:",
    ['no', 'yes'],
    0,
  ),
  wsc: mc(
    'Passage: Mark told Pete many lies about himself, which Pete included in *his* book.\nQuestion: In the passage above, does the pronoun "*his*" refer to "*Mark*"?\nAnswer:',
    ['no', 'yes'],
    0,
  ),
};

describe('lm-eval prompt formats', () => {
  it('every shipped task has an expected rendering here', () => {
    expect(listTaskConfigs(DIR).sort()).toEqual(Object.keys(EXPECTED).sort());
  });
  it.each(Object.keys(EXPECTED))('%s', async (task) => {
    const e = EXPECTED[task]!;
    const r = await requestsOf(task, e.index ?? 0);
    expect(r.pairs).toEqual(e.pairs);
    expect(r.gold).toBe(e.gold);
  });
  it('WSC273 appends a possessive and keeps a sentence-initial article; WSC detokenises', async () => {
    expect((await requestsOf('wsc273', 1)).pairs).toEqual([
      ["Sam thanked Lee because Sam's", '  advice had been so helpful.'],
      ["Sam thanked Lee because Lee's", '  advice had been so helpful.'],
    ]);
    expect((await requestsOf('wsc273', 2)).pairs[1]![0]).toBe('The dog chased the cat. The cat');
    // pronoun_loc < 2: upstream's text[pronoun_loc - 2] wraps to the end of the text. At 0 it reads
    // 'b' (not '.'), so a sentence-initial option is lower-cased; at 1 it reads the final '.', so it is kept.
    expect((await requestsOf('wsc273', 3)).pairs).toEqual([
      ['the painter', '  said the ladder was too short for the job.'],
      ['the roofer', '  said the ladder was too short for the job.'],
    ]);
    expect((await requestsOf('wsc273', 4)).pairs).toEqual([
      ['"The box', '  is too heavy," Tom said of the box.'],
      ['"Tom', '  is too heavy," Tom said of the box.'],
    ]);
    expect((await requestsOf('wsc', 2)).pairs[0]![0]).toContain('Passage: Jane gave Joan candy because *she* wasn\'t hungry.\n');
    expect((await requestsOf('copa', 1)).pairs[0]).toEqual(['The road was wet because', '  the sun was shining.']);
  });
  it('ARC-Challenge inherits ARC-Easy through include and overrides the paper metric', () => {
    const c = loadTaskConfig('arc_challenge', DIR);
    expect(c.dataset_name).toBe('ARC-Challenge');
    expect(c.doc_to_text).toBe(loadTaskConfig('arc_easy', DIR).doc_to_text);
    expect(c.metadata.paper_metric).toBe('acc_norm');
    expect(join(DIR, 'x')).toContain('configs');
  });
});
