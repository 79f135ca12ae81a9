import { startOrthanc } from './test/support/orthanc.js';
const o = await startOrthanc();
console.log(o.url);
process.on('SIGTERM', async () => { await o.stop(); process.exit(0); });
setInterval(() => {}, 1000);
