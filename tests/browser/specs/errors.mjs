// Pages that don't exist: a 404 in the shop's own look, with ways back into the shop.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';

async function assertShopLook(page) {
  // The stylesheet is applied (the shop's warm background, not the browser's white)...
  const look = await page.evaluate(() => ({
    background: getComputedStyle(document.body).backgroundColor,
    font: getComputedStyle(document.body).fontFamily,
    sheets: document.styleSheets.length,
  }));
  assert.equal(look.background, 'rgb(251, 248, 243)', 'the shop’s stylesheet is applied');
  assert.ok(look.sheets >= 1);
  // ... and the header, search, categories and footer are all there.
  assert.match(await textOf(page.locator('header .brand')), /Wasm Goods/);
  assert.ok(await page.getByRole('searchbox', { name: 'Search products' }).isVisible());
  assert.ok(await page.getByRole('navigation', { name: 'Categories' }).isVisible());
  assert.ok(await page.getByRole('link', { name: /^Cart/ }).isVisible());
  assert.ok(await page.locator('footer').isVisible());
  assert.ok(await page.locator('link[rel=icon]').count());
}

export default function errors(ctx, vp) {
  test('an unknown page is a 404 in the shop’s look with a way back', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      const response = await page.goto('/no/such/page');
      assert.equal(response.status(), 404);
      assert.equal(await textOf(page.locator('h1')), "We couldn't find that page");
      assert.equal(await page.title(), "We couldn't find that page · Wasm Goods");
      await assertShopLook(page);
      await tab.snap('errors-01-page-not-found');
      await Promise.all([page.waitForURL(/\/$/), page.getByRole('link', { name: 'Continue shopping' }).click()]);
      assert.equal(await textOf(page.locator('h1')), 'All products');
    });
  });

  test('an unknown SKU is a 404 in the shop’s look with a way back', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      const response = await page.goto('/product/NO-SUCH-THING');
      assert.equal(response.status(), 404);
      assert.equal(await textOf(page.locator('h1')), "We couldn't find that product");
      assert.match(await textOf(page.locator('main')), /Try searching for it, or browse our categories/);
      assert.equal(await page.locator('header [aria-current]').count(), 0, 'no category is marked as the current page');
      await assertShopLook(page);
      await tab.snap('errors-02-unknown-sku');

      // A SKU that can't even be one (markup in the path) gets the same page, the text shown as text.
      const odd = await page.goto('/product/%3Cb%3Ehi%3C%2Fb%3E');
      assert.equal(odd.status(), 404);
      assert.equal(await page.locator('main b').count(), 0);
      await assertShopLook(page);
      await tab.snap('errors-03-malformed-sku');

      const order = await page.goto('/order/NO-SUCH-ORDER');
      assert.equal(order.status(), 404);
      assert.equal(await textOf(page.locator('h1')), "We couldn't find that order");
      await assertShopLook(page);
      await tab.snap('errors-04-unknown-order');
    });
  });
}
