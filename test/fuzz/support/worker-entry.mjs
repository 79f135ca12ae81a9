// Entry of a fuzz worker thread: worker threads do not inherit `--import tsx`, so TypeScript is
// registered here before the runner (and the target it imports) is loaded.
import { register } from 'tsx/esm/api';

register();
await import('./worker-run.ts');
