import { SingleBar } from 'cli-progress';

/** A progress bar on stderr with rate and ETA; silent when stderr is not a terminal-friendly sink. */
export function progressBar(enabled: boolean) {
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{stage} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
    etaBuffer: 50,
  });
  let stage = '';
  let started = 0;
  return {
    update(name: string, done: number, total: number) {
      if (!enabled) return;
      if (name !== stage) {
        if (stage) bar.stop();
        stage = name;
        started = performance.now();
        bar.start(total, 0, { stage: name.padEnd(8), rate: 0 });
      }
      const seconds = (performance.now() - started) / 1000;
      bar.setTotal(total);
      bar.update(done, { rate: seconds > 0 ? Math.round(done / seconds) : 0 });
    },
    stop() {
      if (enabled && stage) bar.stop();
    },
  };
}
