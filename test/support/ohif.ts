/**
 * Serves the real OHIF viewer (`@ohif/app`, installed by `npm ci --prefix test/interop/vendor`) as a
 * static site on 127.0.0.1, with our own `app-config.js`, and reverse-proxies `/dicom-web/*` on the
 * same origin to a DICOMweb server (the gateway under test), so the browser needs no CORS.
 *
 * The proxy streams both ways and preserves method, headers and status; it never adds credentials
 * (what reaches the gateway is what the browser sent). It records every DICOMweb request it relays,
 * with the scheme of its Authorization header (never the credentials), and can deliberately break
 * WADO-RS frame answers (`breakFrames`) so that a test can prove its rendering check is able to fail.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The vendor npm project that holds OHIF and playwright-core. */
export const VENDOR_DIR = fileURLToPath(new URL('../interop/vendor/', import.meta.url));
/** OHIF's prebuilt static site. */
export const OHIF_DIST_DIR = join(VENDOR_DIR, 'node_modules', '@ohif', 'app', 'dist');
/** The only OHIF version these tests are written against. */
export const OHIF_VERSION = '3.13.2';

/** The path prefix under which the proxy relays DICOMweb requests. */
const DICOMWEB_PREFIX = '/dicom-web';

/** One DICOMweb request the proxy relayed (or answered itself when breaking frames). */
export interface ProxiedRequest {
  method: string;
  /** Path and query as the browser sent them, e.g. `/dicom-web/studies?limit=101`. */
  path: string;
  /** Status sent to the browser; 502 when the upstream could not be reached. */
  status: number;
  /** The request's Accept header, useful when a server answers 406. */
  accept: string | undefined;
  /**
   * The scheme of the request's Authorization header as the browser sent it (`Bearer`, `Basic`,
   * ...), undefined when it had none. The credentials themselves are never kept.
   */
  authorization: string | undefined;
  /** True when `breakFrames` replaced the upstream answer. */
  broken: boolean;
}

/** Options for {@link startOhifServer}. */
export interface OhifServerOptions {
  /** DICOMweb root of the server to proxy to, e.g. `http://127.0.0.1:40123/dicom-web`. */
  dicomWebUrl: string;
  /**
   * Corrupt every `.../frames/...` answer: the proxy still asks upstream (so the request is seen
   * there) but answers 200 with a well-formed multipart/related body whose single part holds 64
   * random bytes instead of the frame.
   */
  breakFrames?: boolean;
  /** How OHIF gets its thumbnails: `wadors` (frames, the default), `rendered` or `thumbnail` (the server's rendered images or thumbnails). */
  thumbnailRendering?: 'wadors' | 'rendered' | 'thumbnail';
}

/** A running OHIF site. */
export interface OhifServer {
  /** Origin of the site, e.g. `http://127.0.0.1:40125`. */
  url: string;
  /** Every DICOMweb request relayed so far, in arrival order (status filled when answered). */
  requests: ProxiedRequest[];
  /** Closes the server and every open connection. */
  stop(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.jsonc': 'application/json',
  '.webapp': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** Hop-by-hop headers (RFC 9110 section 7.6.1) that a proxy must not forward. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The `app-config.js` OHIF loads before its bundle: one DICOMweb data source on this same origin,
 * WADO-RS frames for images and (unless `thumbnailRendering` says otherwise) thumbnails, the study
 * list on, the investigational-use banner off.
 */
export function ohifAppConfig(thumbnailRendering: 'wadors' | 'rendered' | 'thumbnail' = 'wadors'): string {
  return `/** Written by test/support/ohif.ts for Aegis interop tests. */
window.config = {
  name: 'aegis-interop',
  routerBasename: '/',
  extensions: [],
  modes: [],
  customizationService: {},
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  investigationalUseDialog: { option: 'never' },
  showErrorDetails: 'always',
  maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 10 },
  defaultDataSourceName: 'aegis',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'aegis',
      configuration: {
        friendlyName: 'Aegis DICOMweb gateway',
        name: 'aegis',
        qidoRoot: window.location.origin + '${DICOMWEB_PREFIX}',
        wadoRoot: window.location.origin + '${DICOMWEB_PREFIX}',
        wadoUriRoot: window.location.origin + '${DICOMWEB_PREFIX}',
        qidoSupportsIncludeField: true,
        imageRendering: 'wadors',
        thumbnailRendering: '${thumbnailRendering}',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        singlepart: 'bulkdata,video',
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
};
`;
}

/** Throws a clear error when the vendor project was not installed. */
export function assertOhifInstalled(): void {
  if (!existsSync(join(OHIF_DIST_DIR, 'index.html'))) {
    throw new Error(`OHIF viewer not installed: ${OHIF_DIST_DIR} is missing.\n` + `Run \`npm ci --prefix test/interop/vendor\` (installs @ohif/app@${OHIF_VERSION} and playwright-core).`);
  }
}

/** Answers a request for a file of OHIF's dist, falling back to index.html (client-side routes). */
async function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, options: OhifServerOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (pathname === '/app-config.js') {
    const body = ohifAppConfig(options.thumbnailRendering);
    res.writeHead(200, { 'content-type': CONTENT_TYPES['.js']!, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  let file = normalize(join(OHIF_DIST_DIR, decodeURIComponent(pathname)));
  if (!file.startsWith(OHIF_DIST_DIR.endsWith(sep) ? OHIF_DIST_DIR : OHIF_DIST_DIR + sep)) file = '';
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!info?.isFile()) {
    // A missing asset (it has an extension) is a 404; anything else is a client-side route.
    if (extname(pathname) !== '' && extname(pathname) !== '.html') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    file = join(OHIF_DIST_DIR, 'index.html');
  }
  const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** A 200 multipart/related answer whose one part is garbage instead of a frame. */
function writeBrokenFrame(res: http.ServerResponse): void {
  const boundary = randomBytes(12).toString('hex');
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`), randomBytes(64), Buffer.from(`\r\n--${boundary}--\r\n`)]);
  res.writeHead(200, {
    'content-type': `multipart/related; type="application/octet-stream"; boundary=${boundary}`,
    'content-length': String(body.length),
  });
  res.end(body);
}

/** The scheme of an Authorization header value (`Bearer abc` -> `Bearer`), never the credentials. */
function authorizationScheme(value: string | undefined): string | undefined {
  return value?.trim().split(/\s/, 1)[0] || undefined;
}

/** Relays one request to the DICOMweb server, streaming both bodies. */
function proxy(req: http.IncomingMessage, res: http.ServerResponse, upstream: URL, record: ProxiedRequest, options: OhifServerOptions): void {
  const suffix = req.url!.slice(DICOMWEB_PREFIX.length); // '/studies?...'
  const target = new URL(upstream.pathname.replace(/\/$/, '') + suffix, upstream);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  }
  headers.host = target.host;
  const upstreamReq = http.request(target, { method: req.method, headers }, (upstreamRes) => {
    const isFrames = /\/frames\//.test(target.pathname);
    if (options.breakFrames === true && isFrames) {
      upstreamRes.resume();
      record.status = 200;
      record.broken = true;
      writeBrokenFrame(res);
      return;
    }
    const outHeaders: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstreamRes.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) outHeaders[name] = value;
    }
    record.status = upstreamRes.statusCode ?? 502;
    res.writeHead(record.status, upstreamRes.statusMessage, outHeaders);
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstreamReq.on('error', (error) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    record.status = 502;
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${error.message}`);
  });
  req.pipe(upstreamReq);
}

/** Starts the OHIF site on 127.0.0.1 and a free port. */
export async function startOhifServer(options: OhifServerOptions): Promise<OhifServer> {
  assertOhifInstalled();
  const upstream = new URL(options.dicomWebUrl);
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0]!;
    if (pathname === DICOMWEB_PREFIX || pathname.startsWith(DICOMWEB_PREFIX + '/')) {
      const record: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: url,
        status: 0,
        accept: req.headers.accept,
        authorization: authorizationScheme(req.headers.authorization),
        broken: false,
      };
      requests.push(record);
      proxy(req, res, upstream, record, options);
      return;
    }
    serveStatic(req, res, pathname, options).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
