// A declined card: explained in plain words, nothing charged, the cart still there.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';
import { ADA, DECLINED_CARD, addToCart, definitions, fillCheckout, placeOrder } from '../support/shopper.mjs';

export default function declined(ctx, vp) {
  test('a declined card is explained in plain words and the cart is kept', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      await addToCart(page, 'OFF-NOTEBOOK-INDIGO', 2);
      await page.goto('/checkout');
      await fillCheckout(page, ADA, DECLINED_CARD);
      await placeOrder(page);

      const alert = page.getByRole('alert');
      assert.equal(await alert.count(), 1);
      assert.equal(await textOf(alert.locator('h2')), "Your payment didn't go through");
      const words = await textOf(alert);
      assert.match(words, /declined/i, 'says what happened');
      assert.match(words, /Nothing was charged/, 'says the money is safe');
      assert.match(words, /different card/, 'says what to do next');
      assert.doesNotMatch(words, /payment_declined|\b402\b|error code|exception|undefined|null/i, 'no jargon');
      assert.ok(await alert.isVisible(), 'the explanation is on screen');
      assert.equal(await page.getByLabel('Email address').inputValue(), ADA.email, 'the entries are kept');
      assert.equal(await page.getByLabel('Full name').inputValue(), ADA.name);
      assert.equal(await page.getByLabel('Card number').inputValue(), '', 'the card number is not sent back');
      assert.equal(await page.getByLabel('Security code (CVV)').inputValue(), '', 'nor the CVV');
      assert.equal(await textOf(page.locator('.cart-count')), '2', 'the header still counts the cart');
      await tab.snap('declined-01-checkout-card-declined');

      await Promise.all([page.waitForURL(/\/cart$/), page.getByRole('link', { name: 'Review or change your cart' }).click()]);
      const line = page.locator('li.line', { has: page.getByRole('link', { name: 'Dotted Grid Notebook' }) });
      assert.equal(await line.count(), 1, 'the cart is kept');
      assert.equal(await line.getByLabel('Quantity').inputValue(), '2');
      await tab.snap('declined-02-cart-kept');

      // The attempt is on record as not completed, with the reason and nothing charged.
      await Promise.all([page.waitForURL(/\/orders$/), page.getByRole('navigation', { name: 'Your shopping' }).getByRole('link', { name: 'Your orders', exact: true }).click()]);
      const attempts = page.locator('.order-list a');
      assert.equal(await attempts.count(), 1);
      assert.match(await textOf(attempts), /Not completed/);
      await tab.snap('declined-03-orders-not-completed');
      await Promise.all([page.waitForURL(/\/order\//), attempts.click()]);
      assert.equal(await textOf(page.getByRole('alert').locator('h2')), 'This order could not be completed');
      assert.match(await textOf(page.getByRole('alert')), /declined\. Nothing was charged\./i);
      assert.equal((await definitions(page.locator('dl.facts')))['Payment reference'], 'Not charged');
      await tab.snap('declined-04-order-not-completed');
    });
  });
}
