/**
 * The soak's clients: who they are and what they do. Each client is one identity signed in as a
 * real client would be (a user by `POST /auth/token` with a password, refreshing its access token
 * before it expires; a modality by its API key) and loops on its role's weighted mix of
 * operations until the end time, each on its own keep-alive connection.
 */
import { Agent } from 'node:http';
import { seededRandom } from '../../test/support/random.js';
import { send } from './http.js';
import type { SoakData, SoakStudy } from './soak-data.js';
import { deleteOldest, expectDenied, frame, metadata, qido, readBack, stowChurn, wado, type Churn, type OpContext } from './soak-ops.js';
import type { SoakRecorder } from './soak-stats.js';

/** The roles of the soak: what the default policy lets each do. */
export type SoakRole = 'admin' | 'radiologist-a' | 'radiologist-b' | 'modality';

/** An account the setup created: a user with a password, or a user's API key. */
export interface SoakAccount {
  name: string;
  role: SoakRole;
  institution: string;
  password?: string;
  apiKey?: string;
}

/** Clients per role out of every 10 (the rest of a division goes to radiologists of A). */
const SHARE: Record<SoakRole, number> = { admin: 2, 'radiologist-a': 4, 'radiologist-b': 2, modality: 2 };

/** The role of client `i` of `n`, spreading the roles evenly over the clients. */
export function roleOf(i: number): SoakRole {
  const slot = i % 10;
  return slot < SHARE.admin ? 'admin' : slot < 6 ? 'radiologist-a' : slot < 8 ? 'radiologist-b' : 'modality';
}

/**
 * The Authorization header of one client. Users sign in with the password grant once, then use
 * the refresh grant when less than a third of the access token's lifetime is left.
 */
class Session {
  private token?: { value: string; refresh: string; renewAt: number };
  constructor(
    private readonly url: string,
    private readonly account: SoakAccount,
    private readonly rec: SoakRecorder,
    private readonly agent: Agent,
  ) {}

  async authorization(): Promise<string> {
    if (this.account.apiKey) return `ApiKey ${this.account.apiKey}`;
    if (!this.token || Date.now() >= this.token.renewAt) await this.renew();
    return `Bearer ${this.token!.value}`;
  }

  private async renew(): Promise<void> {
    const grant: Record<string, string> = this.token ? { grant_type: 'refresh_token', refresh_token: this.token.refresh } : { grant_type: 'password', username: this.account.name, password: this.account.password! };
    const op = this.token ? 'auth-refresh' : 'auth-password';
    {
      const r = await send(this.agent, `${this.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: [Buffer.from(new URLSearchParams(grant).toString())], timeoutMs: 60_000 });
      if (r.status !== 200) {
        this.rec.request(op, r.ms, { kind: 'error', what: `${op}: HTTP ${r.status}`, detail: r.body.toString('utf8', 0, 200) });
        throw new Error(`${op} for ${this.account.name}: HTTP ${r.status}`);
      }
      this.rec.request(op, r.ms, { kind: 'ok' });
      const json = JSON.parse(r.body.toString('utf8')) as { access_token: string; refresh_token: string; expires_in: number };
      this.token = { value: json.access_token, refresh: json.refresh_token, renewAt: Date.now() + (json.expires_in * 1000 * 2) / 3 };
    }
  }
}

type Op = (ctx: OpContext) => Promise<unknown>;

/** The weighted mix of a role: [weight, operation]. */
function mix(role: SoakRole, account: SoakAccount, data: SoakData): Array<[number, Op]> {
  const own = account.institution === data.residentA[0]!.institution ? data.residentA : data.residentB;
  const all: SoakStudy[] = [...data.residentA, ...data.residentB];
  const who = { label: role, institution: account.institution };
  switch (role) {
    case 'admin':
      return [
        [30, (c) => qido(c, all)],
        [15, (c) => wado(c, all)],
        [10, (c) => frame(c, all)],
        [15, (c) => metadata(c, all)],
        [15, async (c) => (await readBack(c)) || qido(c, all)],
      ];
    case 'radiologist-a':
    case 'radiologist-b':
      return [
        [30, (c) => qido(c, own)],
        [20, (c) => wado(c, own)],
        [25, (c) => frame(c, own)],
        [15, (c) => metadata(c, own)],
        [5, (c) => expectDenied(c, who, 'read-foreign')],
        [5, (c) => expectDenied(c, who, 'qido-foreign')],
      ];
    case 'modality':
      return [
        [90, (c) => stowChurn(c)],
        [5, (c) => expectDenied(c, who, 'stow-foreign')],
        [5, (c) => expectDenied(c, who, 'search-modality')],
      ];
  }
}

/** What every client shares. */
export interface SoakShared {
  gatewayUrl: string;
  dicomWebUrl: string;
  data: SoakData;
  churn: Churn;
  rec: SoakRecorder;
  /** performance.now() at which clients stop starting requests. */
  endAt: number;
  /** Pause between a client's requests, ms (0: back to back). */
  thinkMs: number;
}

/**
 * Runs one client until `shared.endAt`, as a machine of its own: one keep-alive connection from
 * its own loopback address (127.0.0.2, .3, ...), so per-client limits of the gateway apply to it
 * as to a real client. Admin clients delete the oldest churn study first whenever the churn is
 * beyond its window; modality clients pause storing while it is far beyond it. A failure that
 * stops an iteration (a refused sign-in) is recorded and the client goes on after a second.
 */
export async function runClient(index: number, account: SoakAccount, shared: SoakShared): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, localAddress: `127.0.${Math.floor((index + 2) / 256)}.${(index + 2) % 256}` });
  const session = new Session(shared.gatewayUrl, account, shared.rec, agent);
  const ctx: OpContext = { agent, dicomWebUrl: shared.dicomWebUrl, authorization: () => session.authorization(), data: shared.data, churn: shared.churn, rec: shared.rec, random: seededRandom(index + 1) };
  const ops = mix(account.role, account, shared.data);
  const total = ops.reduce((n, [w]) => n + w, 0);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    while (performance.now() < shared.endAt) {
      try {
        if (account.role === 'admin' && (await deleteOldest(ctx))) continue;
        if (account.role === 'modality' && shared.churn.live.length > 2 * shared.churn.window) {
          await pause(50);
          continue;
        }
        let x = ctx.random() * total;
        const op = ops.find(([w]) => (x -= w) < 0)?.[1] ?? ops[0]![1];
        await op(ctx);
      } catch (e) {
        shared.rec.request('client', 0, { kind: 'error', what: 'client iteration failed', detail: (e as Error).message });
        await pause(1000);
      }
      if (shared.thinkMs > 0) await pause(shared.thinkMs * (0.5 + ctx.random()));
    }
  } finally {
    agent.destroy();
  }
}
