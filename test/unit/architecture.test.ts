/**
 * The layer boundaries of the linter bite: files that break them (written into the source tree for
 * the length of the test, then removed) fail `eslint` with the boundary rule and a message naming
 * the direction, while the same files importing what their layer may import pass. So do the size
 * limits: a file of 400 lines or a function of 81 fails, one line less passes. There are no index
 * files: a module imports the module that defines a name. And the documentation and comments stand
 * alone: they name no file outside the repository and no issue number.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tag = `zz-architecture-probe-${process.pid}-${randomBytes(4).toString('hex')}`;

/** A probe file: where it sits, what it imports, and whether the boundaries allow that. */
interface Probe {
  path: string;
  source: string;
  allowed: boolean;
}

const probes: Probe[] = [
  { path: `gateway/dicom/${tag}.ts`, source: "import { search } from '../services/search.js';\nexport const probe = search;\n", allowed: false },
  { path: `gateway/dicom/${tag}-type.ts`, source: "import type { Catalog } from '../catalog/catalog.js';\nexport type Probe = Catalog;\n", allowed: false },
  { path: `gateway/dicom/${tag}-lazy.ts`, source: "export const probe = () => import('../protection/protect.js');\n", allowed: false },
  { path: `gateway/dicom/${tag}-ok.ts`, source: "import { GatewayError } from '../errors.js';\nexport const probe = GatewayError;\n", allowed: true },
  { path: `gateway/catalog/${tag}.ts`, source: "export { parseQidoQuery } from '../http/qido-query.js';\n", allowed: false },
  { path: `gateway/protection/split/${tag}.ts`, source: "import type { Catalog } from '../../catalog/catalog.js';\nexport type Probe = Catalog;\n", allowed: false },
  { path: `gateway/services/admin/${tag}.ts`, source: "import { segmentPixels } from '../../protection/segmentation/segmentation.js';\nexport const probe = segmentPixels;\n", allowed: false },
  { path: `gateway/services/admin/${tag}-ok.ts`, source: "import { protectInstance } from '../../protection/protect.js';\nexport const probe = protectInstance;\n", allowed: true },
  { path: `gateway/services/${tag}.ts`, source: "import { buildApp } from '../http/app.js';\nexport const probe = buildApp;\n", allowed: false },
  { path: `adapters/fs/${tag}.ts`, source: "import { GatewayError } from '../../gateway/errors.js';\nexport const probe = GatewayError;\n", allowed: false },
  { path: `conformance/checks/${tag}.ts`, source: "import { GatewayError } from '../../gateway/errors.js';\nexport const probe = GatewayError;\n", allowed: false },
  { path: `conformance/${tag}.ts`, source: "import type { FragmentStore } from '../adapters/fragment-store.js';\nexport type Probe = FragmentStore;\n", allowed: false },
  { path: `conformance/${tag}-ok.ts`, source: "import { verdict } from './check.js';\nexport const probe = verdict;\n", allowed: true },
];

describe('architecture: the linter enforces the layer boundaries', () => {
  before(() => {
    for (const probe of probes) {
      mkdirSync(join(root, probe.path, '..'), { recursive: true });
      writeFileSync(join(root, probe.path), probe.source);
    }
  });

  after(() => {
    for (const probe of probes) rmSync(join(root, probe.path), { force: true });
  });

  it('fails every import against the direction with the boundary rule, and passes the allowed ones', async () => {
    const eslint = new ESLint({ cwd: root });
    const results = await eslint.lintFiles(probes.map((probe) => probe.path));
    assert.equal(results.length, probes.length, 'every probe was linted');
    for (const probe of probes) {
      const result = results.find((r) => r.filePath === join(root, probe.path));
      assert.ok(result !== undefined, `no result for ${probe.path}`);
      const boundary = result.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax');
      if (probe.allowed) {
        assert.deepEqual(
          result.messages.map((m) => `${m.ruleId}: ${m.message}`),
          [],
          `${probe.path} is allowed`,
        );
        continue;
      }
      assert.equal(boundary.length, 1, `${probe.path} breaks one boundary: ${JSON.stringify(result.messages)}`);
      assert.equal(boundary[0].severity, 2, 'an error, not a warning');
      assert.equal(result.errorCount, 1, `${probe.path}: only the boundary fails`);
    }
    const dicom = results.find((r) => r.filePath === join(root, probes[0].path))!;
    assert.match(dicom.messages[0].message, /gateway\/dicom\/ is the DICOM codec.*must not import services\/.*cli -> http -> services/);
    const adapter = results.find((r) => r.filePath === join(root, probes[9].path))!;
    assert.match(adapter.messages[0].message, /Adapters know nothing of the gateway.*must not import gateway\//);
    const suite = results.find((r) => r.filePath === join(root, probes[10].path))!;
    assert.match(suite.messages[0].message, /conformance\/ is a black-box client.*must not import gateway\//);
  });

  it('has no index files (barrels) in gateway/ or adapters/', () => {
    const barrels = ['gateway', 'adapters'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((path) => /(^|\/)index\.[cm]?[jt]s$/.test(path))
        .map((path) => `${dir}/${path}`),
    );
    assert.deepEqual(barrels, []);
  });
});

/** A module of `lines` lines (each a statement). */
function moduleOfLines(lines: number): string {
  return Array.from({ length: lines }, (_, i) => `export const line${i} = ${i};`).join('\n') + '\n';
}

/** A module whose one function spans `lines` lines, its signature and closing brace included. */
function moduleWithFunctionOf(lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  total += ${i};`);
  return ['export function probe(): number {', '  let total = 0;', ...body, '  return total;', '}', ''].join('\n');
}

describe('architecture: the linter keeps files and functions small', () => {
  const sized: Probe[] = [
    { path: `gateway/dicom/${tag}-399.ts`, source: moduleOfLines(399), allowed: true },
    { path: `gateway/dicom/${tag}-400.ts`, source: moduleOfLines(400), allowed: false },
    { path: `adapters/fs/${tag}-fn80.ts`, source: moduleWithFunctionOf(80), allowed: true },
    { path: `adapters/fs/${tag}-fn81.ts`, source: moduleWithFunctionOf(81), allowed: false },
  ];

  before(() => {
    for (const probe of sized) writeFileSync(join(root, probe.path), probe.source);
  });

  after(() => {
    for (const probe of sized) rmSync(join(root, probe.path), { force: true });
  });

  it('fails a file of 400 lines with max-lines and a function of 81 lines with max-lines-per-function', async () => {
    const results = await new ESLint({ cwd: root }).lintFiles(sized.map((probe) => probe.path));
    const rules = sized.map((probe) => results.find((r) => r.filePath === join(root, probe.path))!.messages.map((m) => `${m.ruleId} ${m.severity}`));
    assert.deepEqual(rules, [[], ['max-lines 2'], [], ['max-lines-per-function 2']]);
  });
});

describe('architecture: the documentation stands alone', () => {
  /** What the documentation and comments must not name: design notes kept outside the repository, issue numbers. */
  const OUTSIDE = /DESIGN\.md|CONVENTIONS\.md|INFRA\.md|\bissues? #?[0-9]/i;

  it('names no file outside the repository and no issue number in docs/, gateway/, adapters/ or README.md', () => {
    const files = ['docs', 'gateway', 'adapters']
      .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((path) => `${dir}/${path}`))
      .filter((path) => statSync(join(root, path)).isFile())
      .concat('README.md');
    assert.ok(files.length > 100, `the scan covers the tree (${files.length} files)`);
    const hits = files.flatMap((path) =>
      readFileSync(join(root, path), 'utf8')
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
    );
    assert.deepEqual(hits, []);
  });
});
