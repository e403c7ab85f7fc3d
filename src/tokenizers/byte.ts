// Byte-level tokenizer: ids are the UTF-8 bytes of the text (vocabulary 256). The golden
// MetaLA checkpoint (../shared/golden/metala-tiny, vocab 256) and the offline default corpus use it.
import { UTF8_DECODER, UTF8_ENCODER, type Tokenizer } from './types.js';

export function byteTokenizer(): Tokenizer {
  return {
    spec: 'byte',
    kind: 'byte (UTF-8)',
    vocabSize: 256,
    // No reserved id: every byte value is text. lm-eval's empty-context prefix falls back to '\n'.
    eosId: undefined,
    encode: (text) => Array.from(UTF8_ENCODER.encode(text)),
    decode: (ids) => UTF8_DECODER.decode(Uint8Array.from(ids)),
  };
}
