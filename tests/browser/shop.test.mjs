// The shop in a real browser. One isolated shop (its own database and Redis key prefix, served
// by runtime-local) and one headless Chromium for the whole run; each test is a new shopper
// (fresh cookies), run at a desktop width and at a phone width. Screenshots of every page go to
// test-results/screenshots/.
import fs from 'node:fs';
import { after, before, describe } from 'node:test';

import { SCREENSHOTS, VIEWPORTS, launch } from './support/browser.mjs';
import { Shop } from './support/shop.mjs';
import accessibility from './specs/accessibility.mjs';
import accounts from './specs/accounts.mjs';
import commerce from './specs/commerce.mjs';
import declined from './specs/declined.mjs';
import errors from './specs/errors.mjs';
import journey from './specs/journey.mjs';
import keyboard from './specs/keyboard.mjs';
import outage from './specs/outage.mjs';
import xss from './specs/xss.mjs';

const ctx = { shop: null, browser: null };

describe('the shop in Chromium', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
    const shop = new Shop();
    try {
      await shop.start();
      ctx.browser = await launch();
    } catch (e) {
      await shop.stop().catch(() => {});
      throw e;
    }
    ctx.shop = shop;
  });

  after(async () => {
    await ctx.browser?.close();
    await ctx.shop?.stop();
  });

  for (const vp of VIEWPORTS) {
    describe(`${vp.name} (${vp.viewport.width}×${vp.viewport.height})`, { timeout: 4 * 60_000 }, () => {
      journey(ctx, vp);
      declined(ctx, vp);
      xss(ctx, vp);
      keyboard(ctx, vp);
      accessibility(ctx, vp);
      errors(ctx, vp);
      accounts(ctx, vp);
      commerce(ctx, vp);
      outage(ctx, vp);
    });
  }
});
