// A golden fixture of ../shared/golden/seed/ (docs/seed-systems.md §6): one configuration of an
// authors' layer run in float64 on fixed inputs, with the gradients of Σ output · dout. Arrays are
// flat, row-major; Linear weights in PyTorch's [out, in] layout.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../util/errors.js';

const arraySchema = z
  .object({ shape: z.array(z.number().int().nonnegative()), data: z.array(z.number()) })
  .refine((a) => a.data.length === a.shape.reduce((p, n) => p * n, 1), { message: 'data length does not equal the product of shape' });

export const fixtureSchema = z.looseObject({
  name: z.string(),
  /** The authors' class (ZeroSAttention, FreeEnergyMixer, InLineAttention): picks our mixer. */
  class: z.string(),
  /** The layer's constructor arguments, as the authors' code names them. */
  hyperparameters: z.record(z.string(), z.unknown()),
  param_count: z.number().int().nonnegative(),
  params: z.record(z.string(), arraySchema),
  /** x [B, T, D]. */
  input: arraySchema,
  output: arraySchema,
  dout: arraySchema,
  grads: z.object({ input: arraySchema, params: z.record(z.string(), arraySchema) }),
  /** Parameters the configuration does not use (no gradient); a port may leave them out. */
  unused_params: z.array(z.string()).default([]),
});

export type GoldenArray = z.output<typeof arraySchema>;
export type Fixture = z.output<typeof fixtureSchema>;

/** Reads and validates one fixture; a malformed one is an InputError naming the key. */
export async function readFixture(file: string): Promise<Fixture> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}). Give a fixture .json file or a folder of them`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${(e as Error).message.split('\n')[0]}). Give a golden fixture as ../shared/golden/seed/ holds`);
  }
  const parsed = fixtureSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    throw new InputError(`${file}: ${where}: ${issue?.message ?? 'invalid'}. A fixture has name, class, hyperparameters, param_count, params, input, output, dout and grads (docs/seed-systems.md §6)`);
  }
  return parsed.data;
}
