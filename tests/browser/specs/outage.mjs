// An outage in the middle of a purchase: the shopper gives up, the order page says what is
// happening, and once the shop is healthy again the reconciler finishes the order by itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';
import { ADA, GOOD_CARD, addToCart, definitions, fillCheckout, placeOrder } from '../support/shopper.mjs';

// Nothing listens on the discard port: checkout's calls to payment are refused.
const PAYMENT_DOWN = { SPIN_VARIABLE_PAYMENT_URL: 'http://127.0.0.1:9' };

export default function outage(ctx, vp) {
  test('an order left by an outage says what is happening, then the shop finishes it', async () => {
    const shop = ctx.shop;
    await shop.restart(PAYMENT_DOWN);
    let down = true;
    try {
      await withPage(ctx, vp, async (page, tab) => {
        await addToCart(page, 'KIT-MUG-TEAL', 1);
        await page.goto('/checkout');
        await fillCheckout(page, ADA, GOOD_CARD);
        tab.expectServerError(503, '/checkout');
        await placeOrder(page);
        assert.equal(await textOf(page.locator('h1')), 'Sorry, part of the shop is taking a break');
        assert.match(await textOf(page.locator('.error-page')), /try again in a moment/i);
        await tab.snap('outage-01-payment-unreachable');

        // The shopper gives up; the attempt is on record, and its page says what happens next.
        await page.goto('/orders');
        const orders = page.locator('.order-list a');
        assert.equal(await orders.count(), 1);
        assert.match(await textOf(orders), /Confirming payment/);
        await Promise.all([page.waitForURL(/\/order\//), orders.click()]);
        const orderUrl = page.url();
        const orderId = orderUrl.split('/order/')[1];
        assert.match(await textOf(page.getByRole('status')), /still confirming your payment.*email you the outcome/i);
        assert.equal((await definitions(page.locator('dl.facts')))['Payment reference'], 'Being confirmed');
        await tab.snap('outage-02-order-confirming-payment');

        // The outage ends; ten minutes later the reconciler (every minute in production) runs.
        await shop.restart({});
        down = false;
        await shop.letTimePass(600);
        const report = await shop.operator('POST', '/admin/reconcile', {});
        const done = report.orders.find((o) => o.order_id === orderId);
        assert.ok(done, `the reconciler took the order: ${JSON.stringify(report)}`);
        assert.equal(done.after, 'Failed', 'payment never saw a charge, so the order is cancelled');
        assert.ok(report.emails_sent >= 1, 'the shopper is told by email');

        await page.goto(orderUrl);
        assert.equal(await textOf(page.getByRole('alert').locator('h2')), 'This order could not be completed');
        assert.match(await textOf(page.getByRole('alert')), /could not confirm your payment in time.*Nothing was charged\./i);
        assert.equal(await page.getByRole('status').count(), 0, 'no "still confirming" notice any more');
        await tab.snap('outage-03-order-cancelled-not-charged');
      });
    } finally {
      if (down) await shop.restart({});
    }
  });
}
