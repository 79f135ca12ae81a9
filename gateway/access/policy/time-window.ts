/**
 * Time windows of environment conditions: `{ from: "07:00", to: "19:00", days: [mon-fri] }`, in
 * the policy's time zone. `from` is inclusive, `to` exclusive ("24:00" ends at midnight). A window
 * whose `to` is earlier than its `from` runs overnight (22:00-06:00) and belongs to the day it
 * starts on: Friday 22:00-06:00 holds until Saturday 06:00.
 */

/** Day numbers as `Date.getDay()` has them: 0 Sunday ... 6 Saturday. */
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A parsed window. */
export interface TimeWindow {
  /** The window as the file has it, for explanations. */
  text: string;
  /** Minutes since midnight. */
  from: number;
  to: number;
  /** Days (0 Sunday ... 6 Saturday) the window starts on. */
  days: ReadonlySet<number>;
}

/** A moment as the policy's clock shows it. */
export interface LocalClock {
  day: number;
  minute: number;
  /** `mon 07:05`, for explanations. */
  text: string;
}

/** Parses a window; throws an Error listing every problem when it is malformed. */
export function parseTimeWindow(window: { from: string; to: string; days?: readonly string[] }): TimeWindow {
  const problems: string[] = [];
  const from = minutes(window.from, false, problems);
  const to = minutes(window.to, true, problems);
  if (problems.length === 0 && from === to) problems.push(`the window ${window.from}-${window.to} is empty (for the whole day write 00:00-24:00)`);
  const days = new Set<number>();
  for (const item of window.days ?? ['mon-sun']) for (const day of dayRange(item, problems)) days.add(day);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const text = `${window.from}-${window.to}${window.days ? ` ${window.days.join(',')}` : ''}`;
  return { text, from, to, days };
}

function minutes(text: string, end: boolean, problems: string[]): number {
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text);
  const value = match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
  if (!(value < 24 * 60 || (end && value === 24 * 60))) problems.push(`'${text}' is not a time HH:MM from 00:00 to 23:59${end ? ' (or 24:00)' : ''}`);
  return value;
}

function dayRange(item: string, problems: string[]): number[] {
  const [first, last = first, ...rest] = item.split('-');
  const a = DAY_NAMES.indexOf(first as (typeof DAY_NAMES)[number]);
  const b = DAY_NAMES.indexOf(last as (typeof DAY_NAMES)[number]);
  if (a < 0 || b < 0 || rest.length > 0) {
    problems.push(`'${item}' is not a day (${DAY_NAMES.join(', ')}) or a range of days like mon-fri`);
    return [];
  }
  const days = [a];
  for (let day = a; day !== b;) days.push((day = (day + 1) % 7));
  return days;
}

/** True when the clock is inside the window. */
export function inTimeWindow(window: TimeWindow, clock: LocalClock): boolean {
  if (window.from < window.to) return window.days.has(clock.day) && clock.minute >= window.from && clock.minute < window.to;
  return (window.days.has(clock.day) && clock.minute >= window.from) || (window.days.has((clock.day + 6) % 7) && clock.minute < window.to);
}

/** Throws an Error when `timeZone` is not an IANA time zone this Node knows. */
export function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new Error(`'${timeZone}' is not a time zone (an IANA name like Europe/Paris or UTC)`);
  }
}

/**
 * Reads dates on the clock of a time zone (undefined: the process's). Remembers the last minute
 * read: requests of the same minute share one conversion.
 */
export class PolicyClock {
  private readonly format: Intl.DateTimeFormat;
  private lastMinute = NaN;
  private last: LocalClock | undefined;

  constructor(timeZone?: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  /** The day and minute of `time` on this clock. */
  read(time: Date): LocalClock {
    const minute = Math.floor(time.getTime() / 60_000);
    if (minute === this.lastMinute && this.last) return this.last;
    let day = 0;
    let hour = 0;
    let min = 0;
    for (const part of this.format.formatToParts(time)) {
      if (part.type === 'weekday') day = DAY_NAMES.indexOf(part.value.toLowerCase().slice(0, 3) as (typeof DAY_NAMES)[number]);
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') min = Number(part.value);
    }
    const clock = { day, minute: hour * 60 + min, text: `${DAY_NAMES[day]} ${String(hour).padStart(2, '0')}:${String(min).padStart(2, '0')}` };
    this.lastMinute = minute;
    this.last = clock;
    return clock;
  }
}
