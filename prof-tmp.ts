import http from 'node:http';
import { newUid, syntheticInstance } from '/work/main/test/fixtures/synthetic.js';
import { stowBody } from '/work/main/test/support/dicomweb.js';
const base = process.argv[2];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function req(method: string, path: string, headers: Record<string,string>, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.request(base + path, { method, headers, agent }, (res) => { let n = 0; res.on('data', (c) => n += c.length); res.on('end', () => resolve(res.statusCode!)); });
    r.on('error', reject); r.end(body);
  });
}
const study = newUid(), series = newUid();
const insts = Array.from({ length: 300 }, (_, i) => ({ sop: newUid(), i }));
const bodies = insts.map(({ sop, i }) => stowBody([syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 512, columns: 512, seed: i, instanceNumber: i + 1 })]));
async function pool<T>(items: T[], fn: (t: T) => Promise<unknown>) { let k = 0; await Promise.all(Array.from({ length: 4 }, async () => { while (k < items.length) await fn(items[k++]); })); }
let t = performance.now();
await pool(bodies, (b) => req('POST', (process.env.ROOT ?? '/dicom-web') + '/studies', { 'Content-Type': b.contentType }, b.body));
console.log('stow/s', (bodies.length / ((performance.now() - t) / 1000)).toFixed(1));
t = performance.now();
const gets = insts.slice(0, 4);
await pool(gets, ({ sop }) => req('GET', `${process.env.ROOT ?? '/dicom-web'}/studies/${study}/series/${series}/instances/${sop}`, { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' }));
console.log('wado/s', (gets.length / ((performance.now() - t) / 1000)).toFixed(1));
agent.destroy();
