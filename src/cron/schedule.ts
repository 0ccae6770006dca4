// Pure: deploy.cron schedules. Standard five-field cron syntax (crontab(5): minute, hour, day of
// month, month, day of week; names like MON and JAN, ranges, lists and steps), read by the
// cron-parser library, and turned into what the host's tick script matches each minute: the
// expanded values of every field and how day of month and day of week combine.
import { CronExpressionParser } from 'cron-parser';

/** The five fields of a crontab(5) schedule, in order, as messages name them. */
export const CRON_FIELDS = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;

/** A schedule as the host's tick script matches it (see cron/commands.ts). */
export interface ExpandedSchedule {
  /** Values each field matches: minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6 (0 = Sunday). */
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  dayOfWeek: number[];
  /**
   * crontab(5): when both day fields are restricted (neither starts with `*`), a day matches if
   * either does (`or`); otherwise both must (`and`, the unrestricted one matching every day).
   */
  days: 'and' | 'or';
}

/**
 * Why `schedule` is not a standard five-field cron schedule, naming the field ('' when it is
 * fine). Extensions beyond crontab(5) (seconds, `L`, `W`, `#`, `?`, `@reboot`) are refused: the
 * hosts' tick matches only what every cron understands.
 */
export function scheduleProblem(schedule: string): string {
  const fields = schedule.trim().split(/\s+/);
  if (schedule.trim().startsWith('@')) return `'${schedule}': write it as five fields (@hourly is '0 * * * *', @daily '0 0 * * *'); @reboot has no place in a release`;
  if (schedule.trim() === '' || fields.length !== 5) {
    return `'${schedule}' has ${schedule.trim() === '' ? 'no' : fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has five: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *' or '30 3 * * MON'`;
  }
  for (const [i, f] of fields.entries()) {
    if (/[LW#?]/i.test(f.replace(/[A-Za-z]{3}/g, (w) => (/^(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)$/i.test(w) ? '' : w)))) {
      return `${CRON_FIELDS[i]} field '${f}': L, W, # and ? are not standard cron; write the days out (e.g. 28-31 and a check in the job)`;
    }
    const alone = fields.map((x, j) => (j === i ? x : '*')).join(' ');
    try {
      CronExpressionParser.parse(alone);
    } catch (e) {
      return `${CRON_FIELDS[i]} field '${f}': ${(e as Error).message}`;
    }
  }
  try {
    CronExpressionParser.parse(schedule);
  } catch (e) {
    return `'${schedule}': ${(e as Error).message}`;
  }
  return '';
}

/** Whether `zone` is an IANA time zone name this runtime knows (e.g. Europe/Berlin, UTC). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.trim() !== '';
  } catch {
    return false;
  }
}

/** The schedule's field values for the host's tick. Throws (cron-parser's error) on an invalid schedule. */
export function expandSchedule(schedule: string): ExpandedSchedule {
  const e = CronExpressionParser.parse(schedule);
  const [, , dom, , dow] = schedule.trim().split(/\s+/);
  const f = e.fields;
  return {
    minute: [...f.minute.values].map(Number),
    hour: [...f.hour.values].map(Number),
    dayOfMonth: [...f.dayOfMonth.values].map(Number).filter((n) => n >= 1 && n <= 31),
    month: [...f.month.values].map(Number),
    // cron-parser spells Sunday 0 (and folds 7 into it); `date +%w` prints 0-6.
    dayOfWeek: [...new Set([...f.dayOfWeek.values].map((n) => Number(n) % 7))].sort((a, b) => a - b),
    days: !dom.startsWith('*') && !dow.startsWith('*') ? 'or' : 'and',
  };
}

/** The next `count` times the schedule fires after `from`, in time zone `zone` (Date objects, UTC instants). */
export function nextRuns(schedule: string, zone: string, from: Date, count = 1): Date[] {
  const e = CronExpressionParser.parse(schedule, { tz: zone, currentDate: from });
  return Array.from({ length: count }, () => e.next().toDate());
}
