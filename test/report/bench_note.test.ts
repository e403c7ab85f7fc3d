// The note a `metala bench` file keeps (src/bench/cli.ts benchNote): the user's --note, and the fused
// webgpu kernel families METALA_NO_FUSED left out, so an A/B pair of bench files says which is which.
import { describe, expect, it } from 'vitest';
import { benchNote } from '../../src/bench/cli.js';

describe('benchNote', () => {
  it('names the fused kernel families left out on webgpu', () => {
    expect(benchNote(undefined, ['webgpu'], 'conv, norm')).toBe('Fused webgpu kernel families left out (METALA_NO_FUSED): conv, norm.');
    expect(benchNote('A/B of the norm kernel.', ['webgpu'], 'norm')).toBe('A/B of the norm kernel. Fused webgpu kernel families left out (METALA_NO_FUSED): norm.');
  });
  it('says nothing about fused kernels off webgpu or when none are left out', () => {
    expect(benchNote(undefined, ['wasm'], 'all')).toBeUndefined();
    expect(benchNote(undefined, ['webgpu'], '')).toBeUndefined();
    expect(benchNote('  ', ['webgpu'], undefined)).toBeUndefined();
    expect(benchNote('cpu only', ['wasm'], undefined)).toBe('cpu only');
  });
});
