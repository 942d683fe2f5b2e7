// Acceptance test of the web admin in a real browser (Debian's Chromium,
// headless) against a real running node: the admin claims the box with its
// setup code on first run, logs in, makes an account whose QR code, read back off the page,
// configures a real Delta Chat that then chats; adds a peer from its card;
// sets a transport's schedule; runs it and watches it finish; and sees a
// message arrive in the activity log live. Every page is checked at 360 px
// for sideways scrolling, and screenshotted at phone and desktop sizes.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startNode, type TestNode } from '../../helpers/node.js'
import { nodePaths } from '../../../server/base/paths.js'
import { openDb } from '../../../server/db/index.js'
import { setSetting } from '../../../server/db/settings.js'
import { STICK_ROOT_SETTING } from '../../../server/appliance/sticks.js'
import { Phone, secureJoin, type JoinedChat } from '../../helpers/deltachat.js'
import { smtpClient } from '../../helpers/mail.js'
import { setupCodeOf } from '../../helpers/web-admin.js'
import { DESKTOP, PHONE, launchChromium, launchChromiumWithCamera, newContext, qrVideo, readQr, screenshot, sidewaysOverflow, unnamedControls, watchCsp } from '../../helpers/browser.js'
import { waitFor } from '../../helpers/wait.js'

const PASSWORD = 'purple lantern over the ridge'
const WAIT_MS = 60_000

const ADMIN_PAGES = [
  { path: '/admin', name: 'dashboard', heading: /./ },
  { path: '/admin/accounts', name: 'accounts', heading: 'Accounts' },
  { path: '/admin/peers', name: 'peers', heading: 'Peers & routes' },
  { path: '/admin/transports', name: 'transports', heading: 'Transports' },
  { path: '/admin/queue', name: 'queue', heading: 'Queue' },
  { path: '/admin/usb', name: 'usb', heading: 'USB sticks' },
  { path: '/admin/activity', name: 'activity', heading: 'Activity' },
  { path: '/admin/settings', name: 'settings', heading: 'Settings' },
]

describe('web admin in a real browser', { timeout: 15 * 60_000 }, () => {
  let camp: TestNode | undefined
  let town: TestNode | undefined
  let browser: Browser | undefined
  let ctx: BrowserContext
  let page: Page
  let base: string
  const phones: Phone[] = []
  let stick: string | undefined
  /** Stands in for /run/outpost/usb, where the appliance mounts sticks. */
  let usbRoot: string | undefined
  let transportId: number
  /** Uncaught errors in the page: each is something broken a person would run into. */
  const pageErrors: string[] = []
  let cspViolations: string[] = []

  before(async () => {
    camp = await startNode({ domain: 'camp.test', name: 'camp' })
    // Only its card is needed: town never runs.
    town = await startNode({ domain: 'town.test', name: 'town', start: false })
    stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
    base = `https://127.0.0.1:${camp.ports.web}`
    browser = await launchChromium()
    ctx = await newContext(browser, base, PHONE)
    cspViolations = watchCsp(ctx)
    page = await ctx.newPage()
    page.on('pageerror', (err) => pageErrors.push(err.message))
  })

  after(async () => {
    await browser?.close()
    await Promise.allSettled(phones.map((p) => p.close()))
    await camp?.destroy()
    await town?.destroy()
    for (const dir of [stick, usbRoot]) if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('first run: a wrong setup code is refused, the owner claims the box with the code and lands on the dashboard, and no page breaks the CSP', async () => {
    await page.goto('/admin')
    await page.getByRole('heading', { name: 'Welcome to your Outpost' }).waitFor()
    await page.getByText('outpost admin setup-code').first().waitFor()
    // A wrong code is refused, and the page says where the right one is.
    await page.getByLabel('Setup code').fill('AAAA-BBBB-CCCC-DDDD')
    await page.getByLabel('New admin password').fill(PASSWORD)
    await page.getByLabel('The same again').fill(PASSWORD)
    await page.getByRole('button', { name: 'Set password' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong setup code' }).waitFor()
    // The owner reads the code on the box, as `outpost admin setup-code` shows it.
    await page.getByLabel('Setup code').fill(setupCodeOf(camp!.data))
    await page.getByLabel('New admin password').fill(PASSWORD)
    await page.getByLabel('The same again').fill(PASSWORD)
    await screenshot(page, 'first-run')
    await page.getByRole('button', { name: 'Set password' }).click()
    await page.getByRole('heading', { name: 'camp', exact: true }).waitFor()
    await page.getByText('Sending (SMTP)').waitFor()
    // The page and the dashboard work under the strict policy, and broke none of it.
    const csp = (await page.request.get('/admin')).headers()['content-security-policy'] ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline/)
    assert.deepEqual(cspViolations, [])
    // The password is set for good: a second first run is refused.
    const again = await page.evaluate(async () => (await fetch('/api/auth/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'someone else entirely', code: '' }) })).status)
    assert.notEqual(again, 200)
  })

  it('logs out, refuses a wrong password, and logs in', async () => {
    await page.getByRole('button', { name: 'Menu' }).click()
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.getByLabel('Admin password').fill('not the password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong password.' }).waitFor()
    await screenshot(page, 'login')
    await page.getByLabel('Admin password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByText('Sending (SMTP)').waitFor()
    // A fresh load keeps the session (the cookie), and an API call without it is refused.
    await page.reload()
    await page.getByText('Sending (SMTP)').waitFor()
    const anon = await browser!.newContext({ ignoreHTTPSErrors: true })
    const res = await anon.request.get(`${base}/api/accounts`)
    assert.equal(res.status(), 401)
    await anon.close()
  })

  let alice: Phone
  let bob: Phone
  let chat: JoinedChat

  it('creates an account whose QR code, read off the page, sets up a real Delta Chat', async () => {
    await gotoPage('/admin/accounts', 'Accounts')
    await page.getByLabel('Name', { exact: true }).fill('alice')
    await page.getByRole('button', { name: 'Create account' }).click()
    const card = page.getByRole('region', { name: 'Login for alice@camp.test' })
    await card.waitFor()
    await screenshot(page, 'account-qr')
    const uri = await readQr(page, '.creds .qr')
    assert.match(uri, /^dclogin:/)
    assert.equal(await card.getByRole('link', { name: 'Open in Delta Chat on this phone' }).getAttribute('href'), uri, 'the link and the QR code should carry the same login')
    // The list shows the new account.
    await page.locator('li', { hasText: 'alice@camp.test' }).getByRole('button', { name: 'Remove' }).waitFor()

    alice = await Phone.start('alice')
    phones.push(alice)
    assert.equal(await alice.addAccountFromQr(uri), 'alice@camp.test')
    const b = await camp!.addAccount('bob')
    bob = await Phone.start('bob')
    phones.push(bob)
    await bob.addAccountFromQr(await camp!.dclogin(b.address))
    chat = await secureJoin(alice, bob, WAIT_MS)
  })

  it('the activity log shows a message arriving live, and the QR-configured phone sends and receives', async () => {
    await gotoPage('/admin/activity', 'Activity')
    await page.getByText('Live', { exact: true }).waitFor({ timeout: 15_000 })
    // Marks this page load: if the page reloaded, the mark is gone.
    await page.evaluate(() => ((window as unknown as { loadMark: number }).loadMark = 42))
    const log = page.getByRole('list', { name: 'Activity log, newest first' })
    const before = await log.getByText('Message delivered to bob@camp.test').count()

    const text = `Water at the east well, ${Date.now()}`
    await alice.sendText(chat.inviterChatId, text)
    const got = await bob.waitForIncoming((m) => m.text === text, WAIT_MS)
    assert.equal(got.message.sender.address, 'alice@camp.test')
    await waitFor('the delivery to bob to appear in the activity log', async () => (await log.getByText('Message delivered to bob@camp.test').count()) > before, 30_000)
    assert.equal(await page.evaluate(() => (window as unknown as { loadMark?: number }).loadMark), 42, 'the log should update without a reload')
    await screenshot(page, 'activity')

    const reply = `Thanks, on my way ${Date.now()}`
    await bob.sendText(chat.joinerChatId, reply)
    const back = await alice.waitForIncoming((m) => m.text === reply, WAIT_MS)
    assert.equal(back.message.showPadlock, true)
    await waitFor('the delivery to alice to appear in the activity log', async () => (await log.getByText('Message delivered to alice@camp.test').count()) > 0, 30_000)
  })

  it('the activity log filters by kind', async () => {
    await page.getByLabel('Show').selectOption({ label: 'Messages' })
    const log = page.getByRole('list', { name: 'Activity log, newest first' })
    await log.getByText('Message delivered to bob@camp.test').first().waitFor()
    await page.getByLabel('Show').selectOption({ label: 'Transport runs' })
    await log.getByText('Nothing yet.').waitFor()
    assert.equal(await log.getByText('Message delivered').count(), 0)
  })

  it('with joining by link switched on, a group member makes their own account from an invite', async () => {
    await gotoPage('/admin/settings', 'Settings')
    await page.getByLabel('People may create their own account with an invite link').check()
    await page.getByRole('button', { name: 'Save settings' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor()
    await gotoPage('/admin/accounts', 'Accounts')
    await page.getByLabel('Uses').fill('1')
    await page.getByRole('button', { name: 'Make invite link' }).click()
    const link = page.locator('.new-invite a')
    await link.waitFor()
    const url = new URL((await link.getAttribute('href'))!)
    assert.equal(url.pathname, '/join')
    assert.equal(await readQr(page, '.new-invite .qr'), url.toString(), 'the invite QR should carry the invite link')
    await page.getByText('used 0 of 1').waitFor()

    // The member's own phone: no admin session.
    const member = await newContext(browser!, base, PHONE)
    const mp = await member.newPage()
    mp.on('pageerror', (err) => pageErrors.push(err.message))
    await mp.goto(`/join${url.hash}`)
    await mp.getByLabel('Choose a name').fill('erin')
    await screenshot(mp, 'join')
    await mp.getByRole('button', { name: 'Create my account' }).click()
    await mp.getByRole('region', { name: 'Login for erin@camp.test' }).waitFor()
    const erinQr = await readQr(mp, '.creds .qr')
    assert.match(erinQr, /^dclogin:erin@camp\.test\?/)
    assert.equal(await sidewaysOverflow(mp), 0, '/join scrolls sideways at 360 px')
    await screenshot(mp, 'joined')
    await member.close()
    // The invite is used up, and the admin sees the new account.
    await page.reload()
    await page.getByText('used 1 of 1').waitFor()
    const erin = page.locator('li', { hasText: 'erin@camp.test' }).first()
    await erin.waitFor()

    // A new password only after the admin confirms; its QR carries a different password.
    await erin.getByRole('button', { name: 'New password & QR' }).click()
    await page.getByRole('alertdialog').getByRole('button', { name: 'Make new password' }).click()
    await page.getByRole('region', { name: 'Login for erin@camp.test' }).waitFor()
    const fresh = await readQr(page, '.creds .qr')
    assert.match(fresh, /^dclogin:erin@camp\.test\?/)
    assert.notEqual(new URL(fresh).searchParams.get('p'), new URL(erinQr).searchParams.get('p'), 'the new QR should carry a new password')
  })

  it('adds a peer from its card', async () => {
    const card = await town!.cli(['card', '--text'])
    assert.equal(card.code, 0, card.stderr)
    await gotoPage('/admin/peers', 'Peers & routes')
    // This box's own card is there to share, as QR and as text.
    const own = await readQr(page, 'section[aria-labelledby="self-h"] .qr')
    assert.match(own, /^outpost-card:/)
    assert.equal(await page.getByLabel("This box's card as text").inputValue(), own)
    await page.getByLabel("The other box's card").fill(card.stdout.trim())
    await page.getByRole('button', { name: 'Add peer' }).click()
    await page.getByRole('status').filter({ hasText: 'Peer town added.' }).waitFor()
    await page.getByRole('region', { name: 'Peers' }).getByText('town.test').first().waitFor()
    // The same card again changes nothing.
    await page.getByLabel("The other box's card").fill(card.stdout.trim())
    await page.getByRole('button', { name: 'Add peer' }).click()
    await page.getByRole('status').filter({ hasText: 'already known' }).waitFor()
    await screenshot(page, 'peers')
  })

  it('adds a peer by scanning its card with the phone camera', async () => {
    const hill = await startNode({ domain: 'hill.test', name: 'hill', start: false })
    const video = join(tmpdir(), `op-hill-card-${process.pid}.y4m`)
    let cam: Browser | undefined
    try {
      const card = await hill.cli(['card', '--text'])
      assert.equal(card.code, 0, card.stderr)
      qrVideo(card.stdout.trim(), video)
      cam = await launchChromiumWithCamera(video)
      const cctx = await newContext(cam, base, PHONE)
      const cp = await cctx.newPage()
      cp.on('pageerror', (err) => pageErrors.push(err.message))
      await cp.goto('/admin/peers')
      await cp.getByLabel('Admin password').fill(PASSWORD)
      await cp.getByRole('button', { name: 'Log in' }).click()
      await cp.getByRole('button', { name: 'Scan their card with the camera' }).click()
      await cp.getByRole('status').filter({ hasText: 'Card scanned' }).waitFor({ timeout: 30_000 })
      assert.equal(await cp.getByLabel("The other box's card").inputValue(), card.stdout.trim())
      // The camera is off again once the code is read.
      assert.equal(await cp.locator('video').count(), 0)
      await screenshot(cp, 'peer-scanned')
      await cp.getByRole('button', { name: 'Add peer' }).click()
      await cp.getByRole('status').filter({ hasText: 'Peer hill added.' }).waitFor()
    } finally {
      await cam?.close()
      await hill.destroy()
      rmSync(video, { force: true })
    }
  })

  it('adds a transport and sets its schedule with a live reading', async () => {
    await gotoPage('/admin/transports', 'Transports')
    await page.getByLabel('Peer').selectOption('town')
    await page.getByLabel('Kind').selectOption('folder')
    await page.getByLabel('path').fill(stick!)
    await page.getByRole('button', { name: 'Add transport' }).click()
    const item = page.locator('li[data-transport]', { hasText: 'folder' })
    await item.waitFor()
    transportId = Number(await item.getAttribute('data-transport'))

    await item.getByRole('button', { name: 'Edit schedule' }).click()
    const field = item.getByLabel('Schedule')
    await field.fill('61 * * * *')
    const preview = item.locator(`#sched-${transportId}-preview`)
    await preview.locator('.error').waitFor()
    await field.fill('0 6 * * *')
    await preview.locator('.reading').waitFor()
    const reading = await preview.locator('.reading').textContent()
    assert.ok(reading && reading.trim().length > 0, 'the schedule should read as words')
    assert.match((await preview.textContent()) ?? '', /Next:/)
    await screenshot(page, 'schedule')
    await item.getByRole('button', { name: 'Save schedule' }).click()
    await item.getByText('0 6 * * *', { exact: true }).waitFor()
    await page.reload()
    await page.locator(`li[data-transport="${transportId}"]`).getByText('0 6 * * *', { exact: true }).waitFor()
  })

  it('"Run now" shows progress and completes, carrying the waiting mail', async () => {
    // Mail for town waits in the queue.
    const carol = await camp!.addAccount('carol')
    const smtp = smtpClient(camp!.ports.submission, carol)
    for (let i = 0; i < 3; i++) await smtp.sendMail({ from: carol.address, to: `dave@town.test`, subject: `supplies ${i}`, text: 'Two crates of water.' })
    smtp.close()
    await gotoPage('/admin/queue', 'Queue')
    await page.getByRole('region', { name: 'Waiting for town' }).waitFor({ timeout: 20_000 })

    await gotoPage('/admin/transports', 'Transports')
    const item = page.locator(`li[data-transport="${transportId}"]`)
    // Records every state the progress area shows, however briefly.
    await item.evaluate((li) => {
      const seen: string[] = ((window as unknown as { progressSeen: string[] }).progressSeen = [])
      new MutationObserver(() => {
        const p = li.querySelector('.progress')
        const bar = p?.querySelector('[role=progressbar]')
        const state = `${p?.textContent?.trim().replace(/\s+/g, ' ') ?? ''}|${bar?.getAttribute('aria-valuenow') ?? ''}`
        if (p && seen.at(-1) !== state) seen.push(state)
      }).observe(li, { subtree: true, childList: true, characterData: true, attributes: true })
    })
    await item.getByRole('button', { name: 'Run now' }).click()
    await item.locator('.progress').getByText('Done').waitFor({ timeout: WAIT_MS })
    assert.equal(await item.getByRole('progressbar').getAttribute('aria-valuenow'), '100')
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen)
    assert.ok(seen.length >= 2 && /Starting|Running/.test(seen[0]!), `the run should show progress before it is done: ${JSON.stringify(seen)}`)
    await screenshot(page, 'run-done')
    // The bundle is on the "stick", and the last run reads OK.
    const bundles = readdirSync(join(stick!, 'outpost', 'town'))
    assert.ok(bundles.length > 0, 'the run should have written a bundle for town')
    await page.reload()
    const after = page.locator(`li[data-transport="${transportId}"]`)
    await after.getByText('OK').first().waitFor()
    await after.getByText('Past runs').click()
    await after.locator('details li').filter({ hasText: /OK, .* out/ }).waitFor()
    // And what the run carried, in the carrier's words.
    await after.locator('details li .detail').filter({ hasText: /^sent [1-9]\d* messages and \d+ acks in [1-9]\d* bundles; imported 0 of 0 bundles$/ }).waitFor()
  })

  it('the queue shows what waits for town; discarding one asks first', async () => {
    await gotoPage('/admin/queue', 'Queue')
    const town = page.getByRole('region', { name: 'Waiting for town' })
    await town.waitFor()
    const items = town.locator('li')
    // The section shows the totals first and reads its list with a request of its own.
    await waitFor('the three messages for town to be listed', async () => (await items.count()) === 3, 30_000)
    assert.match((await items.first().textContent()) ?? '', /in bundle, sent .*not yet confirmed/)
    await items.first().getByRole('button', { name: 'Discard' }).click()
    const dialog = page.getByRole('alertdialog')
    await dialog.getByText('It will never arrive').waitFor()
    await screenshot(page, 'queue-confirm')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    assert.equal(await items.count(), 3, 'Cancel must not discard')
    await items.first().getByRole('button', { name: 'Discard' }).click()
    await page.getByRole('alertdialog').getByRole('button', { name: 'Discard message' }).click()
    await waitFor('the discarded message to leave the queue', async () => (await items.count()) === 2, 30_000)
    await town.getByRole('button', { name: 'Retry now' }).click()
    await page.getByRole('status').filter({ hasText: 'will go again' }).waitFor()
  })

  it('USB: a plugged-in stick is offloaded with progress and then safe to remove', async () => {
    usbRoot = mkdtempSync(join(tmpdir(), 'op-usb-'))
    // A stick that has carried Outpost bundles before (on the test's own disk, so it is no mount point).
    mkdirSync(join(usbRoot, 'TRAIL', 'outpost'), { recursive: true })
    const db = openDb(nodePaths(camp!.data).db, { migrate: false })
    setSetting(db, STICK_ROOT_SETTING, usbRoot)
    db.$client.close()

    await gotoPage('/admin/usb', 'USB sticks')
    const card = page.getByRole('region', { name: 'Stick TRAIL' })
    await card.waitFor()
    assert.match((await card.textContent()) ?? '', /0 bundles/)
    await card.getByRole('button', { name: 'Offload now' }).click()
    await card.getByText('Offload done').waitFor({ timeout: WAIT_MS })
    assert.equal(await card.getByRole('progressbar').getAttribute('aria-valuenow'), '100')
    // The two messages still waiting for town went onto the stick.
    assert.ok(readdirSync(join(usbRoot, 'TRAIL', 'outpost', 'town')).length > 0, 'the offload should write a bundle for town')
    await card.getByText(/[1-9]\d* bundles?/).waitFor()
    await card.getByRole('button', { name: 'Safe to remove' }).click()
    await card.getByRole('status').filter({ hasText: 'Safe to remove.' }).waitFor()
    await screenshot(page, 'usb-offloaded')
  })

  it('the dashboard charts the day\'s messages and shows the transport\'s last run', async () => {
    await gotoPage('/admin', /./)
    const chart = page.getByRole('img', { name: /Messages per day over the last 14 days/ })
    const label = (await chart.getAttribute('aria-label')) ?? ''
    const total = Number(/: (\d+) in all/.exec(label)?.[1])
    // Today: alice's and bob's messages (local) and the three for town (sent).
    assert.ok(total >= 5, `the chart should count today's messages: ${label}`)
    assert.ok((await chart.locator('rect').count()) >= 2, 'local and sent bars for today')
    const transports = page.getByRole('region', { name: 'Transports' })
    await transports.getByText('town').waitFor()
    await transports.getByText('OK').waitFor()
  })

  it('every page fits a 360 px phone without sideways scrolling; screenshots at phone and desktop size', async () => {
    for (const viewport of [PHONE, DESKTOP]) {
      await page.setViewportSize(viewport)
      for (const p of ADMIN_PAGES) {
        await gotoPage(p.path, p.heading)
        await page.waitForLoadState('networkidle')
        if (viewport === PHONE) {
          assert.equal(await sidewaysOverflow(page), 0, `${p.path} scrolls sideways at 360 px`)
          assert.deepEqual(await unnamedControls(page), [], `${p.path} has controls a screen reader cannot name`)
        }
        await screenshot(page, p.name)
      }
      await page.goto('/')
      await page.getByRole('heading', { name: '1. Get Delta Chat' }).waitFor()
      if (viewport === PHONE) {
        assert.equal(await sidewaysOverflow(page), 0, '/ scrolls sideways at 360 px')
        assert.deepEqual(await unnamedControls(page), [], '/ has controls a screen reader cannot name')
      }
      await screenshot(page, 'landing')
    }
    assert.deepEqual(pageErrors, [], 'the pages threw errors')
    assert.deepEqual(cspViolations, [], 'every page works under the Content-Security-Policy')
  })

  it('when the session is gone, the next page a person opens asks to log in again', async () => {
    await page.setViewportSize(PHONE)
    await gotoPage('/admin/accounts', 'Accounts')
    await ctx.clearCookies()
    await page.getByRole('button', { name: 'Menu' }).click()
    await page.getByRole('link', { name: 'Queue' }).click()
    await page.getByLabel('Admin password').waitFor()
    assert.equal(new URL(page.url()).pathname, '/admin/queue')
    await page.getByLabel('Admin password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { level: 1, name: 'Queue' }).waitFor()
  })

  async function gotoPage(path: string, heading: string | RegExp): Promise<void> {
    await page.goto(path)
    await page.getByRole('heading', { level: 1, name: heading }).first().waitFor()
  }

})
