// The accessibility basics on every kind of page (Tab.snap checks them on each page it saves:
// html[lang], a title, one h1, labelled fields, alt on images, named links and buttons, unique
// ids, and no sideways scrolling on a phone), plus the checkout form's error wiring.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';
import { addToCart, placeOrder } from '../support/shopper.mjs';

const PAGES = [
  ['a11y-01-empty-cart', '/cart'],
  ['a11y-02-no-orders', '/orders'],
  ['a11y-03-category-kitchen', '/?category=kitchen'],
  ['a11y-04-category-home', '/?category=home'],
  ['a11y-05-category-tech', '/?category=tech'],
  ['a11y-06-all-products-page-2', '/?page=2'],
  ['a11y-07-search-no-results', '/?q=zebra'],
  ['a11y-08-long-product-name', '/product/TEC-HEADPHONES-INDIGO'],
];

export default function accessibility(ctx, vp) {
  test('every kind of page has the accessibility basics', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      for (const [name, url] of PAGES) {
        const response = await page.goto(url);
        assert.equal(response.status(), 200, url);
        await tab.snap(name);
      }
      assert.equal(await textOf(page.locator('h1')), 'Wireless Over-Ear Headphones');
    });
  });

  test('an empty checkout form marks every field, tied to its message', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      await addToCart(page, 'HOM-PLANT-LIME', 1);
      await page.goto('/checkout');
      await placeOrder(page);
      const alert = page.getByRole('alert');
      assert.equal(await textOf(alert.locator('h2')), 'Please check your details');
      const invalid = await page.locator('[aria-invalid="true"]').evaluateAll((els) =>
        els.map((el) => ({
          id: el.id,
          described: (el.getAttribute('aria-describedby') || el.closest('fieldset[aria-describedby]')?.getAttribute('aria-describedby') || '')
            .split(/\s+/)
            .map((id) => document.getElementById(id)?.textContent.trim())
            .filter(Boolean),
        })),
      );
      const ids = invalid.map((f) => f.id);
      for (const id of ['email', 'name', 'street', 'city', 'postal_code', 'card_number', 'expiry_month', 'expiry_year', 'cvv']) {
        assert.ok(ids.includes(id), `${id} is marked invalid (marked: ${ids})`);
      }
      for (const f of invalid) assert.ok(f.described.length > 0, `${f.id} is described by its error message`);
      // Each link in the summary moves to its field.
      const links = await alert.getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      for (const href of links) assert.equal(await page.locator(href).count(), 1, `${href} exists`);
      await tab.snap('a11y-09-checkout-all-errors');
      await alert.getByRole('link').first().click();
      assert.equal(await page.evaluate(() => document.activeElement.id), links[0].slice(1), 'the summary link focuses its field');
    });
  });
}
