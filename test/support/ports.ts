/**
 * Free TCP ports on the loopback interface, for servers that cannot listen on port 0 themselves
 * (Orthanc, s3rver, IPFS daemons). The port is released before it is returned, so a caller that
 * loses the race must retry with a new one.
 */
import { createServer } from 'node:net';

/** Binds 127.0.0.1:0, reads the port the kernel chose, closes, and returns it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}
