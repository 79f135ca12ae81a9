/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), written from the
 * format's description and independent of prom-client: tests parse what `/metrics` serves with it.
 * It throws, naming the line, on anything a Prometheus server would refuse or that the format
 * forbids: a malformed line, name, label or value, an escape other than `\\`, `\"` and `\n`, a
 * sample before its family's TYPE, a family declared twice or split, a sample repeated with the
 * same labels, a missing final newline, a negative counter, and a histogram whose buckets have no
 * `le`, are not cumulative, or whose `+Inf` bucket differs from its `_count`.
 */

/** One sample: its full name (`x_bucket`), labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''], counter: [''], gauge: [''], untyped: [''] };

/** Parses `text`; throws an Error naming the first problem and its line. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === '') return;
    const open = (name: string) => {
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      if (current?.name !== name) {
        if (current) closed.add(current.name);
        if (closed.has(name)) fail(`family ${name} appears in two places`);
        current = families.get(name) ?? { name, type: 'untyped', samples: [] };
        families.set(name, current);
      }
      return current;
    };
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!comment) return; // any other comment
      const [, keyword, name, rest] = comment;
      const family = open(name!);
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail('HELP given twice');
        family.help = unescape(rest!, false, fail);
      } else {
        if (!TYPES.has(rest!)) fail('unknown TYPE');
        if (family.samples.length > 0 || (family as { typed?: boolean }).typed) fail('TYPE after samples or given twice');
        family.type = rest as Family['type'];
        (family as { typed?: boolean }).typed = true;
      }
      return;
    }
    const sample = parseSample(line, fail);
    const family = current && SUFFIXES[current.type]!.some((s) => sample.name === current!.name + s) ? current : open(sample.name);
    if (!(family as { typed?: boolean }).typed) fail('a sample before the TYPE of its family');
    if (family.type === 'histogram' && sample.name === family.name) fail('a histogram sample without _bucket, _sum or _count');
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) fail('the same sample twice');
    seen.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) checkFamily(family);
  return families;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line) ?? fail('bad metric name');
  const name = head[1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at)) ?? fail('bad label');
      const labelName = label[1]!;
      if (!LABEL_NAME.test(labelName) || labelName.startsWith('__')) fail('reserved or bad label name');
      if (labelName in labels) fail(`label ${labelName} twice`);
      at += label[0].length;
      let raw = '';
      while (line[at] !== '"') {
        if (at >= line.length) fail('unterminated label value');
        if (line[at] === '\\') {
          raw += line.slice(at, at + 2);
          at += 2;
        } else raw += line[at++];
      }
      labels[labelName] = unescape(raw, true, fail);
      at++;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') fail('expected , or } after a label');
    }
    at++;
  }
  const rest = line.slice(at);
  const match = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? fail('expected one space, a value and an optional timestamp');
  return { name, labels, value: parseValue(match[1]!, fail) };
}

/** A value as Go's strconv.ParseFloat reads it (what the format specifies): decimal, or NaN and Inf in any case. */
function parseValue(text: string, fail: (why: string) => never): number {
  if (/^nan$/i.test(text)) return NaN;
  const infinite = /^([+-]?)inf(inity)?$/i.exec(text);
  if (infinite) return infinite[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) fail(`bad value ${text}`);
  return Number(text);
}

function unescape(raw: string, quotes: boolean, fail: (why: string) => never): string {
  return raw.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quotes) return '"';
    return fail(`bad escape \\${c}`);
  });
}

function checkFamily(family: Family): void {
  const fail = (why: string): never => {
    throw new Error(`family ${family.name}: ${why}`);
  };
  if (family.type === 'counter') for (const s of family.samples) if (!(s.value >= 0)) fail(`negative or NaN counter ${s.value}`);
  if (family.type !== 'histogram') return;
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of family.samples) {
    const entry = series.get(keyOf(s.labels)) ?? { buckets: [] };
    series.set(keyOf(s.labels), entry);
    if (s.name.endsWith('_bucket')) {
      if (s.labels.le === undefined) fail('a bucket without le');
      entry.buckets.push([parseValue(s.labels.le!, fail), s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) fail(`${key}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]![1] < sorted[i - 1]![1]) fail(`${key}: buckets are not cumulative`);
    if (count === undefined || sorted.at(-1)![1] !== count) fail(`${key}: the +Inf bucket is not the _count`);
  }
}

/** The value of the one sample of `families` named `name` whose labels include `labels`; undefined when none, an error when several. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}
