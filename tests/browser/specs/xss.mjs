// Markup typed by an operator or a shopper is shown as text, never run.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';

export const XSS_NAME = '<script>alert(1)</script>';
const XSS_SEARCH = '<img src=x onerror=alert(1)>';

/** Creates the product with a script for a name, once per shop. */
export async function createXssProduct(shop) {
  if (shop.xssProduct) return shop.xssProduct;
  shop.xssProduct = await shop.operator('POST', '/admin/products', {
    sku: 'XSS-1',
    name: XSS_NAME,
    description: 'A sticker whose name tries to run a script: <b>bold?</b> "quotes" & ampersands.',
    price: { minor: 500, currency: 'USD' },
    category: 'office',
    image: 'sticker-rose',
  });
  return shop.xssProduct;
}

export default function xss(ctx, vp) {
  before(() => createXssProduct(ctx.shop));

  test('a product named like a script and a search for an image tag are shown as text', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      const dialogs = () => tab.dialogs;

      // The catalog card.
      await page.goto('/?category=office');
      const card = page.getByRole('link', { name: XSS_NAME, exact: true });
      assert.equal(await card.count(), 1, 'the card shows the name literally');
      assert.equal(await page.locator('img[alt="<script>alert(1)</script>"]').count(), 1, 'the picture’s alt text too');
      await tab.snap('xss-01-catalog-card');

      // The product page.
      await Promise.all([page.waitForURL(/\/product\/XSS-1$/), card.click()]);
      assert.equal(await textOf(page.locator('h1')), XSS_NAME);
      assert.equal(await page.title(), `${XSS_NAME} · Wasm Goods`);
      assert.equal(
        await textOf(page.locator('.description')),
        'A sticker whose name tries to run a script: <b>bold?</b> "quotes" & ampersands.',
      );
      assert.equal(await page.locator('.description b').count(), 0, 'no markup from the description');
      await tab.snap('xss-02-product-page');

      // In the cart, where the name appears in the notice and the buttons' hidden text.
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
      assert.equal(await textOf(page.getByRole('status')), `Added ${XSS_NAME} to your cart.`);
      assert.equal(await page.getByRole('button', { name: `Remove ${XSS_NAME}` }).count(), 1);
      await tab.snap('xss-03-cart');

      // A search for an image tag with an onerror handler.
      const search = page.getByRole('searchbox', { name: 'Search products' });
      await search.fill(XSS_SEARCH);
      await Promise.all([page.waitForURL(/\?q=/), search.press('Enter')]);
      assert.equal(await textOf(page.locator('h1')), `Results for “${XSS_SEARCH}”`);
      assert.equal(await textOf(page.locator('.empty h2')), `No products match “${XSS_SEARCH}”`);
      assert.equal(await search.inputValue(), XSS_SEARCH, 'the search box keeps the text as typed');
      assert.equal(await page.locator('img[src="x"]').count(), 0, 'no image element was made from the search');

      // No script ran anywhere: wait a moment for a late dialog, then check.
      await page.waitForTimeout(300);
      assert.equal(await page.evaluate(() => [...document.scripts].length), 0, 'the shop has no scripts at all');
      assert.deepEqual(dialogs(), [], 'no dialog opened');
      await tab.snap('xss-04-search-img-tag');
    });
  });
}
