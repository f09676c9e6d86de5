// The way to the cart with the keyboard alone (Tab, arrows, Enter), with focus always visible.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withPage, focusIndicator, textOf } from '../support/browser.mjs';

/** What has focus: tag, accessible-ish name, id. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      text: (el.innerText || el.value || '').replace(/\s+/g, ' ').trim(),
      href: el.getAttribute('href'),
      soldOut: Boolean(el.closest('.card')?.querySelector('.sold-out')),
    };
  });
}

/** Presses Tab until `wanted(focused)` holds, checking the focus ring at every stop. */
async function tabTo(page, wanted, what, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    const ring = await focusIndicator(page);
    assert.ok(ring.ok, `focus must be visible at every Tab stop: ${ring.what}`);
    if (wanted(f)) return f;
  }
  throw new Error(`${what} was not reached with ${max} presses of Tab`);
}

export default function keyboard(ctx, vp) {
  test('the add-to-cart flow works with the keyboard alone, and focus is always visible', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      await page.goto('/');

      // The first Tab reaches the skip link, which shows itself.
      await page.keyboard.press('Tab');
      const skip = await focused(page);
      assert.equal(skip.text, 'Skip to main content');
      assert.ok((await focusIndicator(page)).ok);
      const box = await page.locator('.skip-link').boundingBox();
      assert.ok(box.y >= 0 && box.y < vp.viewport.height, 'the focused skip link is on screen');
      await tab.snap('keyboard-01-skip-link-focused');
      await page.keyboard.press('Enter');

      // From the main content, the next Tab is the first product (past any that are sold out:
      // they have nothing to add).
      const product = await tabTo(page, (f) => f.tag === 'a' && /^\/product\//.test(f.href || '') && !f.soldOut, 'a product link that can be bought', 6);
      await tab.snap('keyboard-02-product-card-focused');
      await Promise.all([page.waitForURL(new RegExp(`${product.href}$`)), page.keyboard.press('Enter')]);
      assert.equal(await textOf(page.locator('h1')), product.text, 'Enter opened the focused product');

      // Quantity: reach the select, choose 3 with the arrow keys.
      await tabTo(page, (f) => f.id === 'quantity', 'the quantity');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      assert.equal(await page.locator('#quantity').inputValue(), '3');
      await tabTo(page, (f) => f.tag === 'button' && f.text === 'Add to cart', 'the Add to cart button', 2);
      await tab.snap('keyboard-03-add-to-cart-focused');
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.keyboard.press('Enter')]);
      assert.equal(await textOf(page.getByRole('status')), `Added ${product.text} to your cart.`);
      assert.equal(await page.getByLabel('Quantity').inputValue(), '3');

      // Change the quantity from the keyboard: type into the field, Enter submits its form.
      await tabTo(page, (f) => f.tag === 'input' && f.id.startsWith('qty-'), 'the quantity field');
      await page.keyboard.press('ArrowUp');
      await tab.snap('keyboard-04-cart-quantity-focused');
      await Promise.all([page.waitForURL(/notice=updated/), page.keyboard.press('Enter')]);
      assert.equal(await page.getByLabel('Quantity').inputValue(), '4');

      // And on to checkout.
      await tabTo(page, (f) => f.tag === 'a' && f.text === 'Go to checkout', 'Go to checkout');
      await tab.snap('keyboard-05-go-to-checkout-focused');
      await Promise.all([page.waitForURL(/\/checkout$/), page.keyboard.press('Enter')]);
      await tabTo(page, (f) => f.id === 'email', 'the email field');
      await tab.snap('keyboard-06-checkout-email-focused');
    });
  });
}
