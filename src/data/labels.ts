// Labels of a batch: IGNORE_INDEX marks positions with nothing to predict (PyTorch's
// CrossEntropyLoss(ignore_index=-100), as Zoology's MQAR uses), and labelIndex lists the others.
// Low in the layering so models (which pick labelled rows before the head), tasks and the loss share it.

/** Label of a position with nothing to predict. */
export const IGNORE_INDEX = -100;

export interface LabelIndex {
  /** Flat positions b·T + t with a label. */
  rows: Int32Array;
  targets: Int32Array;
}

export function labelIndex(labels: Int32Array): LabelIndex {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) n++;
  const rows = new Int32Array(n);
  const targets = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y === IGNORE_INDEX) continue;
    rows[j] = i;
    targets[j] = y;
    j++;
  }
  return { rows, targets };
}
