// Markdown listings of the registries for `metala list`.
import { MIXERS } from '../mixers/registry.js';
import { TASKS } from '../tasks/registry.js';
import { TABLES } from '../report/registry.js';
import { EFFICIENCY_FILES, EFFICIENCY_ID } from '../report/efficiency.js';

function mdTable(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n') + '\n';
}

export async function renderList(what: 'mixers' | 'tasks' | 'eval-tasks' | 'tables', d: number): Promise<string> {
  if (what === 'eval-tasks') {
    // Zero-shot tasks (configs/tasks/*.yaml, lm-eval v0.4 shape): what `metala eval --tasks` takes.
    const { listTaskConfigs, loadTaskConfig, evalSplit } = await import('../eval/task_config.js');
    return mdTable(
      ['task', 'metrics (paper reports)', 'scoring', 'data source (metala data fetch <task>)', 'split'],
      listTaskConfigs().map((name) => {
        const c = loadTaskConfig(name);
        return [name, `${c.metric_list.map((m) => m.metric).join(', ')} (${c.metadata.paper_metric})`, c.output_type, `Hugging Face ${c.dataset_path}${c.dataset_name !== null ? ` / ${c.dataset_name}` : ''}`, evalSplit(c)];
      }),
    );
  }
  if (what === 'mixers') {
    const yes = (b: boolean) => (b ? '✓' : '✗');
    return mdTable(
      ['mixer', 'family', 'f_q', 'f_k', 'f_v', 'f_α', 'f_g', `state (d=${d})`, `params/layer (d=${d})`, 'C0', 'C1', 'C2', 'C3', 'source'],
      Object.values(MIXERS).map((m) => {
        const opts = m.options.parse({}) as never;
        return [
          m.name,
          m.family,
          m.form.f_q,
          m.form.f_k,
          m.form.f_v,
          m.form.f_alpha,
          m.form.f_g,
          m.family === 'softmax' ? `${m.stateSize(opts, d)}·T` : String(m.stateSize(opts, d)),
          String(m.paramCount(opts, d)),
          yes(m.properties.C0),
          yes(m.properties.C1),
          yes(m.properties.C2),
          yes(m.properties.C3),
          m.cite,
        ];
      }),
    );
  }
  if (what === 'tasks') {
    return mdTable(
      ['task', 'metric', 'description'],
      Object.values(TASKS).map((t) => [t.name, t.metric, t.description]),
    );
  }
  return mdTable(
    ['table', 'paper', 'title', 'files'],
    [
      ...Object.values(TABLES).map((t) => [t.id, t.paperRef, t.title, t.files.join(', ')]),
      // Rendered from results/bench (metala bench), not from run folders.
      [EFFICIENCY_ID, 'MetaLA Fig. A2', 'Throughput and memory vs sequence length (metala bench)', EFFICIENCY_FILES.join(', ')],
    ],
  );
}
