// Runs s3rver in a process of its own (so that a test can kill it by PID and start it again on the
// same port and folder): argv port, directory, buckets (comma-separated). Prints "listening PORT".
import S3rver from 's3rver';

const [port, directory, buckets] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', directory, silent: true, configureBuckets: buckets.split(',').map((name) => ({ name })) });
const { port: bound } = await server.run();
process.stdout.write(`listening ${bound}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
