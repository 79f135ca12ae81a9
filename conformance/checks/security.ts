/**
 * The security profile, for gateways that control access (PS3.18 Security Considerations; RFC
 * 9110 §15.5.2): without credentials every route the suite can name from its own data is refused
 * with 401 and a WWW-Authenticate challenge; a user the operator says is denied the suite's study
 * (`--denied-header`) learns nothing of it from any route (no QIDO match, and elsewhere the very
 * answer a study that does not exist gets, never its bytes or attributes); and when the operator
 * gives a tamper hook (`--tamper-command`), data altered in storage behind the server's back is
 * refused (502 or a 4xx) without sending a byte of it.
 */
import { spawn } from 'node:child_process';
import { allOf, skipped, verdict, type Check, type Verdict } from '../check.js';
import { describeReply, type Reply } from '../client.js';
import { pathOf, stored, type FixtureStudy, type StoredInstance, type SuiteContext } from '../context.js';
import { newUid } from '../instances.js';
import { stowBody } from '../multipart.js';
import { AS_STORED } from './retrieve.js';

const SECTION = 'PS3.18 Security Considerations';

/** Every GET route the suite can name for `instance` (and its study and series), with the Accept to use. */
function routesOf(instance: StoredInstance): Array<[path: string, accept: string]> {
  const json = 'application/dicom+json';
  const i = pathOf(instance, 'instance');
  return [
    [`/studies?StudyInstanceUID=${instance.study}`, json],
    [`/series?StudyInstanceUID=${instance.study}`, json],
    [`/instances?StudyInstanceUID=${instance.study}`, json],
    [`/studies/${instance.study}/series`, json],
    [`/studies/${instance.study}/instances`, json],
    [`${pathOf(instance, 'series')}/instances`, json],
    [`${pathOf(instance, 'study')}/metadata`, json],
    [`${pathOf(instance, 'series')}/metadata`, json],
    [`${i}/metadata`, json],
    [pathOf(instance, 'study'), AS_STORED],
    [pathOf(instance, 'series'), AS_STORED],
    [i, AS_STORED],
    [`${i}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*'],
    [`${i}/rendered`, 'image/jpeg'],
    [`${pathOf(instance, 'study')}/rendered`, 'image/jpeg'],
  ];
}

/**
 * True when `reply` to `path` reveals the study of `instance`: its patient's name, a run of its
 * pixel bytes, or a SOP Instance UID the request did not name (an echo of the request is no leak).
 */
function reveals(reply: Reply, path: string, study: FixtureStudy): boolean {
  if (reply.body.includes(study.patientName)) return true;
  if (study.instances.some((i) => !path.includes(i.sop) && reply.body.includes(i.sop))) return true;
  return study.instances.some((i) => reply.body.includes(Buffer.from(i.bytes.subarray(i.bytes.length - 48))));
}

/** The security checks. */
export const SECURITY_CHECKS: Check[] = [
  {
    id: 'security-unauthenticated-401',
    section: `${SECTION}, RFC 9110 §15.5.2`,
    title: 'Without credentials every route (QIDO at each level, metadata, retrieve, frames, rendered, STOW, DELETE) answers 401 with WWW-Authenticate',
    profile: 'security',
    required: true,
    run: async (context) => {
      const study = stored(context.fixture.main);
      const instance = study.instances[0];
      const verdicts: Verdict[] = [];
      for (const [path, accept] of routesOf(instance)) {
        const reply = await context.client.get(path, accept, { anonymous: true });
        verdicts.push(verdict(reply.status === 401 && reply.headers.has('www-authenticate') && !reveals(reply, path, study), `GET ${path}: 401 with WWW-Authenticate`, describeReply(reply)));
      }
      const { body, contentType } = stowBody([instance.bytes]);
      const post = await context.client.request('POST', '/studies', { anonymous: true, body, headers: { 'Content-Type': contentType } });
      verdicts.push(verdict(post.status === 401, 'POST /studies: 401', describeReply(post)));
      const del = await context.client.request('DELETE', pathOf(instance, 'study'), { anonymous: true });
      verdicts.push(verdict(del.status === 401, `DELETE ${pathOf(instance, 'study')}: 401`, describeReply(del)));
      return allOf(verdicts);
    },
  },
  {
    id: 'security-denied-study-hidden',
    section: SECTION,
    title: 'A user denied the study finds no trace of it on any route: no QIDO match, and elsewhere the answer given for a study that does not exist',
    profile: 'security',
    required: true,
    run: async (context) => {
      const credentials = context.options.deniedHeaders;
      if (credentials === undefined) return skipped('--denied-header not given');
      const study = stored(context.fixture.main);
      const routes = routesOf(study.instances[0]);
      const twins = routesOf({ study: newUid(), series: newUid(), sop: newUid(), bytes: new Uint8Array(), frames: 1 });
      const verdicts: Verdict[] = [];
      for (const [i, [path, accept]] of routes.entries()) {
        const reply = await context.client.get(path, accept, { credentials });
        const twin = await context.client.get(twins[i][0], accept, { credentials });
        const hidden = (isEmptyResult(reply) && isEmptyResult(twin)) || (reply.status >= 400 && reply.status === twin.status);
        verdicts.push(verdict(hidden && !reveals(reply, path, study), `GET ${path}: no match, or what a study that does not exist gets (${twin.status})`, describeReply(reply)));
      }
      return allOf(verdicts);
    },
  },
  {
    id: 'security-tampered-refused',
    section: `${SECTION}, RFC 9110 §15.6.3`,
    title: 'After the tamper hook altered the stored data of an instance, retrieving it answers 502 or a 4xx with none of its bytes',
    profile: 'security',
    required: true,
    run: async (context) => {
      const command = context.options.tamperCommand;
      if (command === undefined) return skipped('--tamper-command not given');
      const instance = stored(context.fixture.second).instances[0];
      const exit = await runHook(command, instance, context);
      if (exit !== 0) return verdict(false, 'the tamper command exits 0', `exit ${exit}`);
      const reply = await context.client.get(pathOf(instance, 'instance'), AS_STORED);
      return verdict(
        (reply.status === 502 || (reply.status >= 400 && reply.status < 500)) && !reply.body.includes(Buffer.from(instance.bytes.subarray(instance.bytes.length - 48))),
        '502 (or a 4xx), without the instance bytes',
        describeReply(reply),
      );
    },
  },
];

/** An empty QIDO answer: 204, or 200 with `[]`. */
function isEmptyResult(reply: Reply): boolean {
  if (reply.status === 204) return true;
  if (reply.status !== 200) return false;
  try {
    const json = reply.json();
    return Array.isArray(json) && json.length === 0;
  } catch {
    return false;
  }
}

/** Runs the operator's tamper command through the shell with the instance's UIDs in its environment; resolves to its exit code. */
function runHook(command: string, instance: StoredInstance, context: SuiteContext): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      // Its output goes to stderr: stdout is the report.
      stdio: ['ignore', 2, 2],
      env: { ...process.env, CONFORMANCE_BASE_URL: context.client.options.baseUrl, CONFORMANCE_STUDY_UID: instance.study, CONFORMANCE_SERIES_UID: instance.series, CONFORMANCE_SOP_INSTANCE_UID: instance.sop },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', () => resolve(-1));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}
