// Debian's Chromium driven by playwright-core: the two screen sizes, a page per test with its
// own cookies, full-page screenshots of every page visited, and the basic accessibility checks
// run on each of them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { RESULTS } from './shop.mjs';

export const SCREENSHOTS = path.join(RESULTS, 'screenshots');

export const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false },
  { name: 'phone', viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true },
];

// The flags this machine needs (no GPU, no network besides loopback, no first-run chores).
// Playwright itself adds --headless, --no-sandbox and a fresh temporary --user-data-dir.
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  assert.ok(fs.existsSync(executablePath), `${executablePath} is missing: install Debian's chromium (scripts/test-browser does)`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/**
 * Runs `fn(page, tab)` in a fresh browser context (a new shopper) at the given screen size, and
 * fails the test if a dialog opened, the console logged an error (CSP violations are logged
 * there), a script threw, or the shop answered 5xx.
 */
export async function withPage(ctx, vp, fn) {
  const context = await ctx.browser.newContext({
    viewport: vp.viewport,
    isMobile: vp.isMobile,
    hasTouch: vp.hasTouch,
    deviceScaleFactor: 1,
    baseURL: ctx.shop.base,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  const page = await context.newPage();
  const tab = new Tab(page, vp);
  page.on('dialog', async (dialog) => {
    tab.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  // Pages answered with a 4xx status on purpose (404 page, form errors, a declined card): the
  // browser logs each as "Failed to load resource", which is not a problem of the page.
  const errorDocuments = new Set();
  page.on('response', (res) => {
    if (res.request().resourceType() !== 'document') return;
    if ((res.status() >= 400 && res.status() < 500) || tab.expects(res)) errorDocuments.add(res.url());
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of [45]\d\d/.test(msg.text()) && errorDocuments.has(msg.location().url)) return;
    tab.problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => tab.problems.push(`script error on ${page.url()}: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 500 && !tab.expects(res)) tab.problems.push(`${res.status()} for ${res.request().method()} ${res.url()}`);
  });
  try {
    await fn(page, tab);
    assert.deepEqual(tab.dialogs, [], 'no dialog may open');
    assert.deepEqual(tab.problems, [], 'no console errors, script errors or server errors');
  } catch (e) {
    await page
      .screenshot({ path: path.join(SCREENSHOTS, `FAILED-${vp.name}-${Date.now()}.png`), fullPage: true })
      .catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
}

export class Tab {
  constructor(page, vp) {
    this.page = page;
    this.vp = vp;
    this.dialogs = [];
    this.problems = [];
    this.expected = [];
  }

  /** A server error this test causes on purpose (e.g. a service it took down): `status` for `path`. */
  expectServerError(status, path) {
    this.expected.push({ status, path });
  }

  expects(res) {
    const path = new URL(res.url()).pathname;
    return this.expected.some((e) => e.status === res.status() && e.path === path);
  }

  /** Checks the page's accessibility basics, then saves a full-page screenshot `<width>--<name>.png`. */
  async snap(name) {
    await this.page.waitForLoadState('load');
    const problems = await accessibilityProblems(this.page, this.vp.viewport.width);
    assert.deepEqual(problems, [], `accessibility basics of ${name} (${this.page.url()})`);
    await this.page.screenshot({ path: path.join(SCREENSHOTS, `${this.vp.name}--${name}.png`), fullPage: true });
  }
}

/**
 * What a screen-reader or keyboard user would trip over first, read from the DOM: the page's
 * language and title, one h1, a label for every field, alt on every image, a name for every
 * link and button, unique ids, and (on a phone) no sideways scrolling.
 */
export function accessibilityProblems(page, expectedWidth) {
  return page.evaluate((expectedWidth) => {
    const problems = [];
    const describe = (el) => el.outerHTML.slice(0, 140);
    const text = (el) => (el?.textContent || '').replace(/\s+/g, ' ').trim();
    const labelOf = (el) => {
      const byAria = (el.getAttribute('aria-labelledby') || '')
        .split(/\s+/)
        .filter(Boolean)
        .map((id) => text(document.getElementById(id)))
        .join(' ');
      const byFor = el.id ? [...document.querySelectorAll('label')].filter((l) => l.htmlFor === el.id).map(text).join(' ') : '';
      return [el.getAttribute('aria-label') || '', byAria, byFor, text(el.closest('label'))].join(' ').trim();
    };

    if (!document.documentElement.getAttribute('lang')) problems.push('<html> has no lang');
    if (!document.title.trim()) problems.push('the page has no title');
    const h1s = document.querySelectorAll('h1');
    if (h1s.length !== 1) problems.push(`${h1s.length} h1 elements (want exactly one)`);

    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden') continue;
      if (!labelOf(el)) problems.push(`field without a label: ${describe(el)}`);
    }
    for (const img of document.querySelectorAll('img')) {
      if (!img.hasAttribute('alt')) problems.push(`image without alt: ${describe(img)}`);
      if (img.complete && img.naturalWidth === 0 && img.getAttribute('loading') !== 'lazy') problems.push(`broken image: ${describe(img)}`);
    }
    for (const el of document.querySelectorAll('a[href], button')) {
      const name = el.getAttribute('aria-label') || text(el) || [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join(' ');
      if (!name.trim()) problems.push(`link or button without a name: ${describe(el)}`);
    }
    const seen = new Set();
    for (const el of document.querySelectorAll('[id]')) {
      if (seen.has(el.id)) problems.push(`duplicate id "${el.id}"`);
      seen.add(el.id);
    }
    for (const el of document.querySelectorAll('[aria-describedby]')) {
      for (const id of el.getAttribute('aria-describedby').split(/\s+/)) {
        if (!document.getElementById(id)) problems.push(`aria-describedby names missing id "${id}"`);
      }
    }
    if (expectedWidth <= 480) {
      if (window.innerWidth !== expectedWidth) problems.push(`the page zoomed out to ${window.innerWidth}px (content too wide for ${expectedWidth}px)`);
      const scrollWidth = document.scrollingElement.scrollWidth;
      if (scrollWidth > window.innerWidth) {
        const wide = [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .slice(0, 3)
          .map(describe);
        problems.push(`horizontal scroll: ${scrollWidth}px content in a ${window.innerWidth}px window; e.g. ${wide.join(' | ')}`);
      }
    }
    return problems;
  }, expectedWidth);
}

/** Whether the focused element shows a visible focus indicator (its own, or a :focus-within ring around it). */
export function focusIndicator(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { ok: false, what: 'nothing is focused' };
    const what = el.outerHTML.slice(0, 120);
    // An outline of 2px or more (the shop's focus style is a 3px outline).
    const ring = (n) => {
      const s = getComputedStyle(n);
      return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    };
    if (!el.matches(':focus-visible')) return { ok: false, what: `not :focus-visible: ${what}` };
    for (let n = el; n && n !== document.body; n = n.parentElement) {
      if ((n === el || n.matches(':focus-within')) && ring(n)) {
        const r = n.getBoundingClientRect();
        const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
        return { ok: onScreen, what: onScreen ? what : `focus ring off screen: ${what}` };
      }
    }
    return { ok: false, what: `no visible focus ring: ${what}` };
  });
}

/** Text of an element with whitespace collapsed. */
export async function textOf(locator) {
  return ((await locator.textContent()) || '').replace(/\s+/g, ' ').trim();
}
