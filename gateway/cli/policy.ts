/**
 * `aegis policy check|validate`: explains an access decision as the gateway would make
 * it (the user from the users table, the study from the catalog, the environment from options),
 * rule by rule; validates a policy file, reporting every problem. Exit codes: `check` 0 allowed,
 * 3 denied; both 1 for a failure or an invalid policy (message on stderr), 2 usage.
 */
import { CommandError, parseCommandLine, processIo, runCommand, subCommandOf, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig, type GatewayConfig } from '../config.js';
import { ACTIONS, PURPOSES, type Action, type Environment, type Purpose, type StudyResource, type Subject } from '../access/model.js';
import { parseClientAddress } from '../network.js';
import { DEFAULT_POLICY, loadPolicy, type Explanation, type Policy } from '../access/policy/policy.js';
import { loadStudyResource, strictestView } from '../access/policy/study-resource.js';
import { UserStore, type User } from '../access/users.js';

/** Exit status of `aegis policy check` when the policy denies. */
export const DENIED_EXIT_CODE = 3;

/** Usage of `aegis policy`. */
export const POLICY_USAGE = `usage: aegis policy <sub-command> [options]

sub-commands:
  check --user NAME --action ACTION [--study UID] [--purpose P] [--client ADDR] [--time ISO]
        [--break-glass] [--json]
                    explain the decision on a study: the deciding rule and, for every rule,
                    whether it applied and why not. Exit 0 allowed, 3 denied.
                    ACTION: ${ACTIONS.join(', ')} (--study is needed but for admin)
                    --purpose: ${PURPOSES.join(', ')} (default TREAT; ETREAT with --break-glass)
                    --client: client address (default 127.0.0.1)
                    --time: request time, ISO 8601 (default now)
                    --break-glass: as if the user held a break-glass grant in force
  validate          check the policy file and report every problem (exit 0 valid, 1 invalid)

options (every sub-command):
  --policy FILE     policy file (default: the configuration's 'policy', else the built-in one,
                    config/policy.yaml)
  --config FILE     configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR        data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help        show this help
`;

/** Runs `aegis policy ...`; `argv` starts with `policy`. Resolves to the exit code. */
export async function policyCommand(argv: string[], io: Omit<CommandIo, 'stdin'> = processIo()): Promise<number> {
  return runCommand('policy', io, () => run(argv, io));
}

const CHECK_OPTIONS = ['user', 'action', 'study', 'purpose', 'client', 'time', 'break-glass', 'json'];

async function run(argv: string[], io: Omit<CommandIo, 'stdin'>): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    policy: { type: 'string' },
    user: { type: 'string' },
    action: { type: 'string' },
    study: { type: 'string' },
    purpose: { type: 'string' },
    client: { type: 'string' },
    time: { type: 'string' },
    'break-glass': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(POLICY_USAGE);
    return 0;
  }
  if (subCommandOf(positionals, ['check', 'validate']) === 'validate') {
    const wrong = Object.keys(values).find((option) => CHECK_OPTIONS.includes(option));
    if (wrong) throw new UsageError(`'validate' takes no --${wrong}`);
    const { policy } = openPolicy(values.policy, () => configOf(values, io));
    io.stdout.write(`${policy.source}: valid, ${policy.document.rules.length} rule${policy.document.rules.length === 1 ? '' : 's'}\n`);
    return 0;
  }

  const request = checkRequest(values);
  const config = configOf(values, io);
  const { policy } = openPolicy(values.policy, () => config);
  const file = existingCatalog(config.dataDir);
  const catalog = await Catalog.openSqlite(file);
  let user: User | undefined;
  let resources: Array<StudyResource | undefined> = [undefined];
  try {
    user = await new UserStore(catalog.db).get(request.user);
    if (user === undefined) throw new CommandError(`no user '${request.user}'`);
    if (request.study !== undefined) {
      const found = await loadStudyResource(catalog.db, request.study);
      if (found === undefined) throw new CommandError(`no study ${request.study} in the catalog`);
      resources = found;
    }
  } finally {
    await catalog.close();
  }
  const subject: Subject = { name: user.name, role: user.role, attributes: user.attributes, method: 'password' };
  // A study whose instances differ is allowed only when each of their combinations is: the first
  // one denied explains a refusal; the view is the strictest of theirs.
  const explained = resources.map((resource) => ({ resource, explanation: policy.explain(subject, request.env, request.action, resource) }));
  const { resource, explanation: deciding } = explained.find((e) => !e.explanation.decision.allowed) ?? explained[0];
  const explanation = { ...deciding, view: strictestView(explained.map((e) => e.explanation.view)) };
  const combinations = resources.length;
  io.stdout.write(values.json ? `${JSON.stringify({ policy: policy.source, ...explanation, ...(combinations > 1 && { combinations }) }, null, 2)}\n` : report(policy, user, request, resource, explanation, combinations));
  return explanation.decision.allowed ? 0 : DENIED_EXIT_CODE;
}

interface CheckRequest {
  user: string;
  action: Action;
  study?: string;
  env: Environment;
}

function checkRequest(values: Record<string, string | boolean | undefined>): CheckRequest {
  const text = (name: string) => values[name] as string | undefined;
  const user = text('user');
  const action = text('action');
  if (user === undefined) throw new UsageError("'check' needs --user NAME");
  if (action === undefined) throw new UsageError("'check' needs --action ACTION");
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`--action: '${action}' is not one of ${ACTIONS.join(', ')}`);
  const study = text('study');
  if (study === undefined && action !== 'admin') throw new UsageError(`'check --action ${action}' needs --study UID`);
  const breakGlass = values['break-glass'] === true;
  const purpose = text('purpose') ?? (breakGlass ? 'ETREAT' : 'TREAT');
  if (!(PURPOSES as readonly string[]).includes(purpose)) throw new UsageError(`--purpose: '${purpose}' is not one of ${PURPOSES.join(', ')}`);
  const clientAddress = text('client') ?? '127.0.0.1';
  if (parseClientAddress(clientAddress) === undefined) throw new UsageError(`--client: '${clientAddress}' is not an IP address`);
  const timeText = text('time');
  const time = timeText === undefined ? new Date() : new Date(timeText);
  if (Number.isNaN(time.getTime()) || (timeText !== undefined && !/^\d{4}-\d{2}-\d{2}T/.test(timeText))) {
    throw new UsageError(`--time: '${timeText}' is not an ISO 8601 date and time (like 2026-03-03T10:00:00Z)`);
  }
  const env: Environment = { time, clientAddress, purpose: purpose as Purpose };
  if (breakGlass) env.breakGlass = { id: 'aegis-policy-check', reason: 'aegis policy check --break-glass', expiresAt: new Date(time.getTime() + 60_000) };
  return { user, action: action as Action, ...(study !== undefined && { study }), env };
}

function configOf(values: { config?: string; data?: string }, io: Omit<CommandIo, 'stdin'>): GatewayConfig {
  return loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
}

/** The policy of `--policy`, else of the configuration's `policy` key, else the default. */
function openPolicy(file: string | undefined, config: () => GatewayConfig): { policy: Policy } {
  if (file !== undefined) return { policy: loadPolicy(file) };
  const configured = config().policy;
  return { policy: configured === undefined ? DEFAULT_POLICY : loadPolicy(configured) };
}

/** The explanation in words. */
function report(policy: Policy, user: User, request: CheckRequest, resource: StudyResource | undefined, explanation: Explanation, combinations: number): string {
  const { decision, view } = explanation;
  const on = resource ? `study ${resource.study}` : 'the gateway';
  const lines = [`${decision.allowed ? 'ALLOWED' : 'DENIED'}: ${request.action} on ${on} by ${user.name} (role ${user.role})`, `reason: ${decision.reason}`];
  if (!decision.allowed && resource) lines.push(`answer: ${policy.denied === 'forbidden' ? '403 Forbidden' : '404 Not Found (existence not revealed)'}`);
  if (decision.allowed && resource) {
    const masked = view.maskedFields.length > 0 ? `masked ${view.maskedFields.join(', ')}` : '';
    lines.push(`view: ${[view.deidentify ? 'de-identified (PS3.15 Annex E Basic Profile)' : '', masked].filter(Boolean).join('; ') || 'full'}`);
  }
  if (user.disabled) lines.push('note: the user is disabled and cannot sign in');
  const env = request.env;
  lines.push(
    `environment: purpose ${env.purpose}, client ${env.clientAddress}, time ${env.time.toISOString()} (${explanation.clock} on the policy clock)`,
    `break-glass: ${explanation.breakGlass.inForce ? 'in force' : `not in force (${explanation.breakGlass.reason})`}`,
  );
  if (resource) lines.push(`study: ${describe(resource)}`);
  if (combinations > 1) {
    lines.push(`note: the study's instances describe it in ${combinations} ways; each must be allowed (shown: ${explanation.decision.allowed ? 'the first' : 'the first denied'})`);
  }
  lines.push(`policy: ${policy.source}`, '', 'rules, in file order (+ applies, - does not):');
  for (const rule of explanation.rules) {
    const kind = rule.kind === 'access' ? rule.effect : `${rule.effect}, ${rule.kind === 'mask' ? 'mask' : 'de-identified view'}`;
    const decides = rule.id === decision.rule ? '  <= decides' : '';
    lines.push(`  ${rule.applies ? '+' : '-'} ${rule.id} (${kind}): ${rule.stage === 'applies' ? '' : `${rule.stage}: `}${rule.reason}${decides}`);
  }
  if (explanation.rules.length === 0) lines.push('  (none)');
  return `${lines.join('\n')}\n`;
}

function describe(resource: StudyResource): string {
  return Object.entries(resource)
    .filter(([key]) => key !== 'study')
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('\\') || '(none)' : (value ?? '(none)')}`)
    .join(' ');
}
