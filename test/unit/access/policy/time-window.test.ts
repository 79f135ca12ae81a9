/**
 * Time windows: `from` inclusive and `to` exclusive to the minute, day lists and ranges, windows
 * over midnight belonging to the day they start on, 24:00, and the policy clock in a time zone
 * (daylight saving time included).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inTimeWindow, parseTimeWindow, PolicyClock, type LocalClock } from '../../../../gateway/access/policy/time-window.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A clock reading: `at('mon', '07:00')`. */
function at(day: string, time: string): LocalClock {
  const [h, m] = time.split(':').map(Number);
  return { day: DAYS.indexOf(day), minute: h * 60 + m, text: `${day} ${time}` };
}

describe('time windows', () => {
  it('holds from the first minute up to, not including, the end minute', () => {
    const office = parseTimeWindow({ from: '07:00', to: '19:00' });
    assert.equal(inTimeWindow(office, at('wed', '06:59')), false);
    assert.equal(inTimeWindow(office, at('wed', '07:00')), true);
    assert.equal(inTimeWindow(office, at('wed', '18:59')), true);
    assert.equal(inTimeWindow(office, at('wed', '19:00')), false);
  });

  it('holds on the listed days only; ranges of days may wrap around the week', () => {
    const weekdays = parseTimeWindow({ from: '00:00', to: '24:00', days: ['mon-fri'] });
    assert.deepEqual(
      DAYS.filter((d) => inTimeWindow(weekdays, at(d, '12:00'))),
      ['mon', 'tue', 'wed', 'thu', 'fri'],
    );
    assert.equal(inTimeWindow(weekdays, at('fri', '23:59')), true, '24:00 ends at midnight');
    const weekend = parseTimeWindow({ from: '08:00', to: '12:00', days: ['fri-sun', 'wed'] });
    assert.deepEqual(
      DAYS.filter((d) => inTimeWindow(weekend, at(d, '09:00'))),
      ['sun', 'wed', 'fri', 'sat'],
    );
  });

  it('runs over midnight when it ends before it starts, on the day it starts', () => {
    const night = parseTimeWindow({ from: '22:00', to: '06:00', days: ['fri'] });
    assert.equal(inTimeWindow(night, at('fri', '21:59')), false);
    assert.equal(inTimeWindow(night, at('fri', '22:00')), true);
    assert.equal(inTimeWindow(night, at('fri', '23:59')), true);
    assert.equal(inTimeWindow(night, at('sat', '00:00')), true, 'Friday night goes on into Saturday');
    assert.equal(inTimeWindow(night, at('sat', '05:59')), true);
    assert.equal(inTimeWindow(night, at('sat', '06:00')), false);
    assert.equal(inTimeWindow(night, at('fri', '05:00')), false, 'Friday early morning belongs to Thursday night');
    assert.equal(inTimeWindow(night, at('sat', '22:00')), false);
    const sundayNight = parseTimeWindow({ from: '22:00', to: '06:00', days: ['sun'] });
    assert.equal(inTimeWindow(sundayNight, at('mon', '03:00')), true, 'the week wraps: Sunday night into Monday');
  });

  it('keeps the text of the window for explanations', () => {
    assert.equal(parseTimeWindow({ from: '22:00', to: '06:00', days: ['mon-fri', 'sun'] }).text, '22:00-06:00 mon-fri,sun');
    assert.equal(parseTimeWindow({ from: '07:00', to: '19:00' }).text, '07:00-19:00');
  });

  it('refuses malformed times, days and empty windows, naming every problem', () => {
    assert.throws(() => parseTimeWindow({ from: '24:00', to: '7', days: ['mon-', 'someday', 'mon-tue-wed'] }), {
      message:
        "'24:00' is not a time HH:MM from 00:00 to 23:59; '7' is not a time HH:MM from 00:00 to 23:59 (or 24:00); 'mon-' is not a day (sun, mon, tue, wed, thu, fri, sat) or a range of days like mon-fri; 'someday' is not a day (sun, mon, tue, wed, thu, fri, sat) or a range of days like mon-fri; 'mon-tue-wed' is not a day (sun, mon, tue, wed, thu, fri, sat) or a range of days like mon-fri",
    });
    assert.throws(() => parseTimeWindow({ from: '00:00', to: '00:00' }), /is empty/);
    assert.throws(() => parseTimeWindow({ from: '12:60', to: '13:00' }), /'12:60' is not a time/);
  });

  it('reads dates on the clock of the policy time zone, with daylight saving time', () => {
    const paris = new PolicyClock('Europe/Paris');
    assert.deepEqual(paris.read(new Date('2026-01-05T06:30:00Z')), { day: 1, minute: 7 * 60 + 30, text: 'mon 07:30' }, 'winter: UTC+1');
    assert.deepEqual(paris.read(new Date('2026-07-05T22:30:00Z')), { day: 1, minute: 30, text: 'mon 00:30' }, 'summer: UTC+2, already Monday');
    const utc = new PolicyClock('UTC');
    assert.deepEqual(utc.read(new Date('2026-07-05T22:30:59.999Z')), { day: 0, minute: 22 * 60 + 30, text: 'sun 22:30' });
    assert.deepEqual(utc.read(new Date('2026-07-05T22:31:00Z')), { day: 0, minute: 22 * 60 + 31, text: 'sun 22:31' }, 'a new minute is read anew');
  });
});
