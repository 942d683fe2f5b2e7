// The schedule preview a person reads before saving a transport's schedule.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { scheduleText } from '../../../server/transports/schedule-text.js'
import { checkSchedule } from '../../../server/transports/service.js'

const TABLE: [string, string][] = [
  ['event', 'when mail is waiting (event)'],
  ['* * * * *', 'every minute'],
  ['*/15 * * * *', 'every 15 minutes'],
  ['*/5 * * * *', 'every 5 minutes'],
  ['*/1 * * * *', 'every minute'],
  ['0 * * * *', 'every hour'],
  ['30 * * * *', 'every hour at :30'],
  ['0 */2 * * *', 'every 2 hours'],
  ['15 */6 * * *', 'every 6 hours at :15'],
  ['0 6 * * *', 'at 06:00 every day'],
  ['30 18 * * *', 'at 18:30 every day'],
  ['0 6,18 * * *', 'at 06:00 and 18:00 every day'],
  ['0,30 7 * * *', 'at 07:00 and 07:30 every day'],
  ['0 8 * * 1,5', 'at 08:00 on Monday and Friday'],
  ['0 8 * * mon,fri', 'at 08:00 on Monday and Friday'],
  ['0 8 * * 1-5', 'at 08:00 on Monday to Friday'],
  ['0 9 * * 0', 'at 09:00 on Sunday'],
  ['0 9 * * 7', 'at 09:00 on Sunday'],
  ['0 8 1 * *', 'at 08:00 on day 1 of the month'],
  ['0 8 1,15 * *', 'at 08:00 on day 1 and 15 of the month'],
  ['0 8 * 1,7 *', 'at 08:00 in January and July'],
  ['0 8 * jan *', 'at 08:00 in January'],
  ['*/10 8-17 * * 1-5', 'every 10 minutes between 08:00 and 17:59 on Monday to Friday'],
  ['*/30 * * * * *', 'every 30 seconds'],
  ['0 */15 * * * *', 'every 15 minutes'],
  ['0 0 6 * * *', 'at 06:00 every day'],
  ['5 4 * * *', 'at 04:05 every day'],
  ['0 1,2,3,4,5,6,7 * * *', 'at :00 past 01:00, 02:00, 03:00, 04:00, 05:00, 06:00 and 07:00 every day'],
  // Shapes not put into words are said back as they are, never guessed.
  ['1-30/10 * * * *', 'on the cron schedule "1-30/10 * * * *"'],
  ['0 0-5/2 * * *', 'on the cron schedule "0 0-5/2 * * *"'],
  ['0 8 */2 * *', 'on the cron schedule "0 8 */2 * *"'],
]

test('schedules read as short English', () => {
  for (const [expr, text] of TABLE) {
    checkSchedule(expr)
    assert.equal(scheduleText(expr), text, expr)
  }
})
