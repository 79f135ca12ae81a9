/**
 * A worker process for the cluster metrics test (`test/unit/cli/cluster-metrics.test.ts`), forked
 * by the test acting as the primary. `AEGIS_TEST_STORED=N`: counts N instances stored, answers the
 * primary's collections, and on `{ type: 'test-scrape' }` scrapes the whole cluster and sends back
 * `{ type: 'test-result', text | code }`. `AEGIS_TEST_MUTE=1`: says it listens and never answers.
 */
import { workerMetrics } from '../../gateway/cli/cluster-metrics.js';
import { isGatewayError } from '../../gateway/errors.js';

if (process.env.AEGIS_TEST_MUTE === '1') {
  process.on('message', () => undefined); // keeps the channel open, answers nothing
} else {
  const metrics = workerMetrics();
  metrics.recorder.instancesStored(Number(process.env.AEGIS_TEST_STORED));
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'test-scrape') return;
    metrics.scrape().then(
      (text) => process.send!({ type: 'test-result', text }),
      (error: unknown) => process.send!({ type: 'test-result', code: isGatewayError(error) ? error.code : String(error) }),
    );
  });
}
process.send!({ type: 'listening', url: 'http://127.0.0.1:0' });
