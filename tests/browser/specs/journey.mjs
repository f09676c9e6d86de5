// The whole way from the home page to a placed order, and back to it from "Your orders".
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';
import { ADA, GOOD_CARD, cents, definitions, fillCheckout, placeOrder } from '../support/shopper.mjs';

export default function journey(ctx, vp) {
  test('a shopper searches, fills the cart, fixes a checkout mistake and finds the order again', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      // Home.
      await page.goto(ctx.shop.url('/'));
      await assert.doesNotReject(page.getByRole('heading', { level: 1, name: 'All products' }).waitFor());
      assert.ok((await page.locator('.grid .card').count()) >= 6, 'the home page shows a grid of products');
      await tab.snap('journey-01-home');

      // Search.
      await page.getByRole('searchbox', { name: 'Search products' }).fill('mug');
      await Promise.all([page.waitForURL(/\?q=mug/), page.getByRole('searchbox', { name: 'Search products' }).press('Enter')]);
      assert.equal(await textOf(page.locator('h1')), 'Results for “mug”');
      assert.equal(await page.getByRole('searchbox', { name: 'Search products' }).inputValue(), 'mug', 'the search box keeps the words');
      const names = await page.locator('.card h2').allTextContents();
      assert.ok(names.includes('Stoneware Coffee Mug'), `search results: ${names}`);
      assert.ok(!names.includes('Classic Crew T-Shirt'), 'search results are only mugs');
      await tab.snap('journey-02-search-mug');

      // Product page, first item: one mug.
      await Promise.all([page.waitForURL(/\/product\/KIT-MUG-TEAL$/), page.getByRole('link', { name: 'Stoneware Coffee Mug' }).click()]);
      assert.equal(await textOf(page.locator('h1')), 'Stoneware Coffee Mug');
      assert.equal(await textOf(page.locator('.product .price')), '$12.99');
      const buy = await page.getByRole('button', { name: 'Add to cart' }).boundingBox();
      assert.ok(buy.y + buy.height <= vp.viewport.height, `"Add to cart" is on the first screen (bottom at ${buy.y + buy.height}px)`);
      await tab.snap('journey-03-product-mug');
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
      assert.equal(await textOf(page.getByRole('status')), 'Added Stoneware Coffee Mug to your cart.');
      await tab.snap('journey-04-cart-after-mug');

      // Second item, found through the category bar: two tees.
      await Promise.all([
        page.waitForURL(/category=apparel/),
        page.getByRole('navigation', { name: 'Categories' }).getByRole('link', { name: 'Apparel' }).click(),
      ]);
      assert.equal(await textOf(page.locator('h1')), 'Apparel');
      await tab.snap('journey-05-category-apparel');
      await Promise.all([page.waitForURL(/\/product\/APP-TEE-TEAL$/), page.getByRole('link', { name: 'Classic Crew T-Shirt' }).click()]);
      await page.getByLabel('Quantity').selectOption('2');
      await tab.snap('journey-06-product-tee');
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
      assert.equal(await textOf(page.getByRole('status')), 'Added Classic Crew T-Shirt to your cart.');
      assert.equal(await page.getByLabel('Quantity').count(), 2, 'two lines in the cart');
      assert.equal(await textOf(page.locator('.cart-count')), '3');
      let totals = await definitions(page.locator('.summary dl.totals'));
      assert.equal(totals['Subtotal (3 items)'], '$52.97');
      await tab.snap('journey-07-cart-two-items');

      // Change the mug's quantity to 3.
      const mugLine = page.locator('li.line', { has: page.getByRole('link', { name: 'Stoneware Coffee Mug' }) });
      await mugLine.getByLabel('Quantity').fill('3');
      await Promise.all([
        page.waitForURL(/notice=updated/),
        mugLine.getByRole('button', { name: 'Update quantity of Stoneware Coffee Mug' }).click(),
      ]);
      assert.equal(await textOf(page.getByRole('status')), 'Updated the quantity of Stoneware Coffee Mug.');
      assert.equal(await mugLine.getByLabel('Quantity').inputValue(), '3');
      assert.equal(await textOf(mugLine.locator('.line-total')), '$38.97');
      totals = await definitions(page.locator('.summary dl.totals'));
      assert.equal(totals['Subtotal (5 items)'], '$78.95');
      await tab.snap('journey-08-cart-quantity-changed');

      // Remove the tees.
      await Promise.all([page.waitForURL(/notice=removed/), page.getByRole('button', { name: 'Remove Classic Crew T-Shirt' }).click()]);
      assert.equal(await textOf(page.getByRole('status')), 'Removed the item from your cart.');
      assert.equal(await page.getByRole('link', { name: 'Classic Crew T-Shirt' }).count(), 0);
      totals = await definitions(page.locator('.summary dl.totals'));
      assert.equal(totals['Subtotal (3 items)'], '$38.97');
      assert.equal(cents(totals.Total), cents(totals['Subtotal (3 items)']) + cents(totals['Estimated shipping to United States']));
      await tab.snap('journey-09-cart-item-removed');

      // Checkout with a mistake in the email address.
      await Promise.all([page.waitForURL(/\/checkout$/), page.getByRole('link', { name: 'Go to checkout' }).click()]);
      await tab.snap('journey-10-checkout-form');
      await fillCheckout(page, { ...ADA, email: 'ada.example.com' }, GOOD_CARD);
      await placeOrder(page);
      const email = page.getByLabel('Email address');
      assert.equal(await email.getAttribute('aria-invalid'), 'true');
      const error = page.locator('#email-error');
      assert.ok(await error.isVisible(), 'the message is shown beside the field');
      assert.match(await textOf(error), /email/i);
      assert.match(await email.getAttribute('aria-describedby'), /\bemail-error\b/, 'the message is tied to the field');
      const box = await email.boundingBox();
      const errorBox = await error.boundingBox();
      assert.ok(errorBox.y >= box.y + box.height - 1 && errorBox.y - (box.y + box.height) < 40, 'the message sits right under the field');
      assert.ok(await page.getByRole('alert').getByRole('link', { name: await textOf(error) }).isVisible(), 'the summary links to the field');
      assert.equal(await email.inputValue(), 'ada.example.com', 'what was typed is kept');
      assert.equal(await page.getByLabel('Full name').inputValue(), ADA.name);
      assert.equal(await page.getByLabel('Street address').inputValue(), ADA.street);
      assert.equal(await page.getByLabel('City').inputValue(), ADA.city);
      assert.equal(await page.getByLabel('Postal code').inputValue(), ADA.postalCode);
      assert.equal(await page.getByLabel('Country').inputValue(), ADA.country);
      assert.equal(await page.getByLabel('Expiry month').inputValue(), ADA.expiryMonth);
      assert.equal(await page.getByLabel('Expiry year').inputValue(), ADA.expiryYear);
      assert.equal(await page.getByLabel('Card number').inputValue(), '', 'the card number is never sent back');
      assert.equal(await page.getByLabel('Security code (CVV)').inputValue(), '', 'the CVV is never sent back');
      await tab.snap('journey-11-checkout-email-error');

      // Fix it and place the order.
      await email.fill(ADA.email);
      await page.getByLabel('Card number').fill(GOOD_CARD);
      await page.getByLabel('Security code (CVV)').fill(ADA.cvv);
      await Promise.all([page.waitForURL(/\/order\/[^/?]+\?placed=1$/), page.getByRole('button', { name: 'Place order' }).click()]);
      const orderId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());

      // The confirmation.
      assert.equal(await textOf(page.getByRole('status')), 'Thank you! Your order is placed.');
      assert.equal(await textOf(page.locator('h1')), `Order ${orderId}`);
      const facts = await definitions(page.locator('dl.facts'));
      assert.equal(facts['Order number'], orderId);
      assert.ok(facts['Payment reference'] && facts['Payment reference'] !== 'Not charged', `transaction id: ${facts['Payment reference']}`);
      assert.ok(facts['Tracking number'] && facts['Tracking number'] !== 'Not shipped yet', `tracking id: ${facts['Tracking number']}`);
      assert.equal(facts['Confirmation email'], ADA.email);
      assert.match(await textOf(page.locator('main')), /sent a confirmation to ada@example\.com/);
      const items = page.locator('section[aria-labelledby="items-title"] li.line');
      assert.equal(await items.count(), 1);
      assert.equal(await textOf(items.locator('h3')), 'Stoneware Coffee Mug');
      assert.equal(await textOf(items.locator('.line-meta')), '3 × $12.99');
      assert.equal(await textOf(items.locator('.line-total')), '$38.97');
      const orderTotals = await definitions(page.locator('.summary dl.totals'));
      assert.equal(orderTotals['Subtotal (3 items)'], '$38.97');
      assert.ok(cents(orderTotals.Shipping) > 0, 'shipping to the UK is charged');
      assert.equal(cents(orderTotals.Total), cents(orderTotals['Subtotal (3 items)']) + cents(orderTotals.Shipping));
      assert.equal((await page.locator('address').innerText()).replace(/\s*\n\s*/g, ' | ').trim(), 'Ada Lovelace | 12 Analytical Row | London | N1 9GU | United Kingdom');
      assert.equal(await page.locator('.cart-count').count() ? await textOf(page.locator('.cart-count')) : '0', '0', 'the cart is empty after ordering');
      await tab.snap('journey-12-order-confirmation');

      // "Your orders" lists it; open it again.
      await Promise.all([page.waitForURL(/\/orders$/), page.getByRole('navigation', { name: 'Your shopping' }).getByRole('link', { name: 'Your orders', exact: true }).click()]);
      const listed = page.getByRole('link', { name: new RegExp(`Order ${orderId}`) });
      assert.equal(await listed.count(), 1);
      assert.match(await textOf(listed), new RegExp(`\\$${(cents(orderTotals.Total) / 100).toFixed(2)}`));
      assert.match(await textOf(listed), /3 items/);
      await tab.snap('journey-13-your-orders');
      await Promise.all([page.waitForURL(new RegExp(`/order/${orderId}$`)), listed.click()]);
      assert.equal(await textOf(page.locator('h1')), `Order ${orderId}`);
      assert.equal(await page.getByRole('status').count(), 0, 'no "thank you" when opened later');
      assert.equal((await definitions(page.locator('dl.facts')))['Payment reference'], facts['Payment reference']);
      await tab.snap('journey-14-order-reopened');
    });
  });
}
