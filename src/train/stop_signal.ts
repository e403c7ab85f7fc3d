// Ctrl-C (SIGINT) and SIGTERM (a scheduler's preemption or time limit) during `metala train`: the
// first one asks the loop to stop after its current step (it checkpoints, writes summary.json with
// status interrupted and says where it stopped); a second one exits at once.
let requested = false;
let installed = false;

export function stopRequested(): boolean {
  return requested;
}

export function installStopSignals(say: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (requested) {
      say(`metala: ${sig} again: exiting now (the last checkpoint is kept)`);
      process.exit(130);
    }
    requested = true;
    say(`metala: ${sig}: stopping after the current step and checkpointing (again to exit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
