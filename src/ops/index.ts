// Public API of src/ops: linear-attention recurrences as pure tensor functions, each with a naive
// step-by-step reference and faster (parallel / chunkwise) forms that agree on outputs and
// gradients. Layout: activations [B,T,H,D], state [B,H,K,V] (hgrn: [B,T,D], state [B,D]).
import { deltaRule } from './delta_rule/index.js';
import { gatedDeltaRule } from './gated_delta_rule/index.js';
import { gla } from './gated_recurrence/index.js';
import { hgrn } from './hgrn/index.js';
import { simpleGla } from './simple_gla/index.js';
import { rwkv4 } from './rwkv4/index.js';
import { complexScan } from './complex_scan/index.js';
import { diagSsm } from './diag_ssm/index.js';

export * from './common/types.js';
export { unitLowerInverse } from './common/tri_inverse.js';
export { linearScan } from './common/scan.js';
export type { ChunkDefaults } from './common/validate.js';
export { GLA_DEFAULTS, gla, glaChunk, glaNaive, glaParallel } from './gated_recurrence/index.js';
export { SIMPLE_GLA_DEFAULTS, simpleGla, simpleGlaChunk, simpleGlaNaive, simpleGlaParallel } from './simple_gla/index.js';
export { DELTA_RULE_DEFAULTS, deltaRule, deltaRuleChunk, deltaRuleNaive, deltaRuleParallel } from './delta_rule/index.js';
export { gatedDeltaRule, gatedDeltaRuleChunk, gatedDeltaRuleNaive, gatedDeltaRuleParallel } from './gated_delta_rule/index.js';
export { HGRN_DEFAULTS, hgrn, hgrnChunk, hgrnNaive, hgrnParallel } from './hgrn/index.js';
export type { HgrnOptions } from './hgrn/index.js';
export { RWKV4_DEFAULTS, rwkv4, rwkv4Chunk, rwkv4Naive } from './rwkv4/index.js';
export type { Rwkv4Options } from './rwkv4/index.js';
export { complexScan, complexScanNaive, complexScanParallel } from './complex_scan/index.js';
export { diagSsm, diagScan, diagSsmNaive, diagSsmGla, diagScanNaive, diagScanHgrn, discretize } from './diag_ssm/index.js';
export type { DiagSsmInputs, DiagSsmResult, DiagScanInputs, DiagScanResult, SsmOptions } from './diag_ssm/index.js';
export { selectiveScan, type SelectiveScanInputs } from './selective_scan/index.js';

/** All recurrences by name. */
export const ops = { gla, simpleGla, deltaRule, gatedDeltaRule, hgrn, rwkv4, complexScan, diagSsm };
