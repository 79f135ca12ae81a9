/**
 * Cross-origin access for browser viewers (the Fetch standard's CORS protocol, which a browser
 * applies to every DICOMweb request of a web viewer): run when the operator gives `--origin`. A preflight
 * for a QIDO-RS request with an Authorization header is allowed for that origin, and the simple
 * request itself carries Access-Control-Allow-Origin.
 */
import { allOf, skipped, verdict, type Check } from '../check.js';
import { ownStudies, stored } from '../context.js';

const SECTION = 'Fetch standard §3.2 (CORS protocol)';

/** The CORS checks. */
export const CORS_CHECKS: Check[] = [
  {
    id: 'cors-preflight',
    section: SECTION,
    title: 'A preflight (OPTIONS) for GET with Authorization from the given origin is allowed',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const origin = context.options.origin;
      if (origin === undefined) return skipped('--origin not given');
      const reply = await context.client.request('OPTIONS', '/studies', { anonymous: true, headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' } });
      const allowOrigin = reply.headers.get('access-control-allow-origin') ?? '';
      const allowHeaders = (reply.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      const allowMethods = reply.headers.get('access-control-allow-methods') ?? '';
      return allOf([
        verdict(reply.status >= 200 && reply.status < 300, 'a 2xx', `${reply.status}`),
        verdict(allowOrigin === origin || allowOrigin === '*', `Access-Control-Allow-Origin: ${origin}`, allowOrigin || '(absent)'),
        verdict(/\bGET\b/.test(allowMethods), 'Access-Control-Allow-Methods with GET', allowMethods || '(absent)'),
        verdict(
          allowHeaders === '*' ||
            allowHeaders
              .split(',')
              .map((h) => h.trim())
              .includes('authorization'),
          'Access-Control-Allow-Headers with Authorization',
          allowHeaders || '(absent)',
        ),
      ]);
    },
  },
  {
    id: 'cors-simple-request',
    section: SECTION,
    title: 'A QIDO-RS request from the given origin carries Access-Control-Allow-Origin',
    profile: 'dicomweb',
    required: true,
    run: async (context) => {
      const origin = context.options.origin;
      if (origin === undefined) return skipped('--origin not given');
      stored(context.fixture.main);
      const reply = await context.client.get(`/studies?StudyInstanceUID=${ownStudies(context.fixture)}`, 'application/dicom+json', { headers: { Origin: origin } });
      const allowOrigin = reply.headers.get('access-control-allow-origin') ?? '';
      return verdict(reply.status === 200 && (allowOrigin === origin || allowOrigin === '*'), `200 with Access-Control-Allow-Origin: ${origin}`, `${reply.status}, Access-Control-Allow-Origin: ${allowOrigin || '(absent)'}`);
    },
  },
];
