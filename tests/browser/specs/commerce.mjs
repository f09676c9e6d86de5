// Currencies, stock and "Often bought together" as a shopper meets them: the header's currency
// picker (yen everywhere, a yen cart and order), a product that sells out (no "Add to cart"; an
// addition refused the moment it sold out), and what others bought shown after an order of two
// products; with the accessibility of each new part (labels, names, focus, contrast).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { SCREENSHOTS, focusIndicator, textOf, withPage } from '../support/browser.mjs';
import { ADA, GOOD_CARD, addToCart, definitions, fillCheckout, placeOrder } from '../support/shopper.mjs';

/** `¥1,965` → 1965 */
export function yen(text) {
  const m = /¥([\d,]+)(?![\d.])/.exec(text);
  assert.ok(m, `no yen amount in ${JSON.stringify(text)}`);
  return Number(m[1].replace(/,/g, ''));
}

// Products no other spec buys, so what this spec sees is its own doing.
const SELL_OUT = 'HOM-POSTER-CORAL';
const SELL_OUT_NAME = 'Retro Sunset Poster';
const PAIR = [
  ['HOM-PLANT-TEAL', 'Succulent Trio'],
  ['KIT-BOTTLE-LIME', 'Glass Infuser Bottle'],
];

/** Chooses a currency with the header's picker; ends on the page it was chosen on. */
async function pickCurrency(page, code) {
  const before = new URL(page.url());
  await page.getByLabel('Currency').selectOption(code);
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Change currency' }).click()]);
  const after = new URL(page.url());
  assert.equal(after.pathname + after.search, before.pathname + before.search, 'back on the same page');
  assert.equal(await page.getByLabel('Currency').inputValue(), code, 'the picker shows the choice');
}

/**
 * WCAG contrast of every element matching the selectors against the first opaque background
 * behind it (the shop's colours are opaque); answers the ones below 4.5:1.
 */
function contrastProblems(page, selectors) {
  return page.evaluate((selectors) => {
    const rgb = (css) => {
      const m = /rgba?\(([^)]+)\)/.exec(css);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const luminance = ({ r, g, b }) => {
      const f = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backgroundOf = (el) => {
      for (let n = el; n; n = n.parentElement) {
        const c = rgb(getComputedStyle(n).backgroundColor);
        if (c && c.a > 0) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const problems = [];
    for (const selector of selectors) {
      for (const el of document.querySelectorAll(selector)) {
        const fg = rgb(getComputedStyle(el).color);
        const bg = backgroundOf(el);
        const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
        const ratio = (hi + 0.05) / (lo + 0.05);
        if (ratio < 4.5) problems.push(`${selector} "${el.textContent.trim().slice(0, 40)}": ${ratio.toFixed(2)}:1`);
      }
    }
    return problems;
  }, selectors);
}

export default function commerce(ctx, vp) {
  test('a shopper picks yen: every price is in yen, through the cart to the order', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      await page.goto('/?category=kitchen');
      const picker = page.getByLabel('Currency');
      assert.equal(await picker.inputValue(), 'USD', 'dollars until another currency is chosen');
      const options = await picker.locator('option').allTextContents();
      assert.deepEqual(options.map((o) => o.split(' — ')[0]), ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'CHF', 'KWD']);
      assert.ok(options.includes('JPY — Japanese yen'), `options: ${options}`);

      // The picker from the keyboard: right after the skip link, with a visible focus ring.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'currency-code');
      const ring = await focusIndicator(page);
      assert.ok(ring.ok, ring.what);
      assert.deepEqual(await contrastProblems(page, ['.currency-picker label', '.currency-picker select', '.currency-picker button']), []);

      await pickCurrency(page, 'JPY');
      await page.locator('.top-bar').screenshot({ path: path.join(SCREENSHOTS, `${vp.name}--commerce-01-picker.png`) });
      const prices = await page.locator('.grid .card .price').allTextContents();
      assert.ok(prices.length >= 3, 'the kitchen has products');
      for (const p of prices) assert.match(p.trim(), /^¥\d{1,3}(,\d{3})*$/, 'a whole number of yen');
      await tab.snap('commerce-02-kitchen-in-yen');

      // Search and the product page.
      await page.getByRole('searchbox', { name: 'Search products' }).fill('mug');
      await Promise.all([page.waitForURL(/\?q=mug/), page.getByRole('searchbox', { name: 'Search products' }).press('Enter')]);
      for (const p of await page.locator('.grid .card .price').allTextContents()) assert.match(p, /^¥/);
      await Promise.all([page.waitForURL(/\/product\/KIT-MUG-TEAL$/), page.getByRole('link', { name: 'Stoneware Coffee Mug' }).click()]);
      // $12.99 at 151.25 yen per dollar: 1964.7375, so ¥1,965.
      assert.equal(await textOf(page.locator('.product .price')), '¥1,965');
      assert.equal(await textOf(page.locator('.product .stock')), 'In stock');
      assert.match(await textOf(page.locator('.perks li').first()), /^Shipping to the United States from ¥[\d,]+$/);
      await tab.snap('commerce-03-product-in-yen');

      // A yen cart: two mugs and a sticker sheet.
      await page.getByLabel('Quantity').selectOption('2');
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
      await addToCart(page, 'OFF-STICKER-LIME', 1);
      const mug = page.locator('li.line', { has: page.getByRole('link', { name: 'Stoneware Coffee Mug' }) });
      assert.equal(await textOf(mug.locator('.line-meta')), '¥1,965 each');
      assert.equal(yen(await textOf(mug.locator('.line-total'))), 2 * 1965);
      const sticker = page.locator('li.line', { has: page.getByRole('link', { name: 'Cloud Native Sticker Sheet' }) });
      const stickerUnit = yen(await textOf(sticker.locator('.line-meta')));
      const totals = await definitions(page.locator('.summary dl.totals'));
      assert.equal(yen(totals['Subtotal (3 items)']), 2 * 1965 + stickerUnit);
      const shipping = yen(totals['Estimated shipping to United States']);
      assert.equal(yen(totals.Total), yen(totals['Subtotal (3 items)']) + shipping);
      assert.doesNotMatch(await textOf(page.locator('main')), /\$\d/, 'no dollar amount left on the page');
      await tab.snap('commerce-04-cart-in-yen');

      // Checkout shows the yen total it asks the shopper to confirm, and the order keeps it.
      await Promise.all([page.waitForURL(/\/checkout$/), page.getByRole('link', { name: 'Go to checkout' }).click()]);
      const shown = await definitions(page.locator('.summary dl.totals'));
      assert.equal(yen(shown.Total), yen(totals.Total));
      assert.equal(await page.locator('input[name="expected_currency"]').inputValue(), 'JPY');
      assert.equal(Number(await page.locator('input[name="expected_total"]').inputValue()), yen(shown.Total));
      await fillCheckout(page, ADA, GOOD_CARD);
      await placeOrder(page);
      assert.match(page.url(), /\/order\/[^/?]+\?placed=1$/, `placed (not asked to confirm again): ${page.url()}`);
      const order = await definitions(page.locator('.summary dl.totals'));
      assert.equal(yen(order['Subtotal (3 items)']), 2 * 1965 + stickerUnit);
      assert.ok(yen(order.Shipping) > shipping, 'shipping to the UK, quoted in yen');
      assert.equal(yen(order.Total), yen(order['Subtotal (3 items)']) + yen(order.Shipping));
      assert.equal(await textOf(page.locator('.rates')), 'Paid in JPY at 1 USD = 151.25 JPY');
      const items = page.locator('section[aria-labelledby="items-title"] li.line');
      assert.equal(await textOf(items.first().locator('.line-meta')), '2 × ¥1,965');
      await tab.snap('commerce-05-order-in-yen');

      // The order keeps its yen after the shopper goes back to dollars.
      await Promise.all([page.waitForURL(/\/orders$/), page.getByRole('navigation', { name: 'Your shopping' }).getByRole('link', { name: 'Your orders', exact: true }).click()]);
      await pickCurrency(page, 'USD');
      assert.match(await textOf(page.locator('.order-list a').first()), new RegExp(`¥${yen(order.Total).toLocaleString('en-US')}`));
    });
  });

  test('a product that sells out has no "Add to cart", and an addition too late is explained', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      try {
        // One left: the page offers just that one.
        let level = await ctx.shop.operator('PUT', `/admin/stock/${SELL_OUT}`, { stock: 1 });
        assert.equal(level.stock, 1);
        await page.goto(`/product/${SELL_OUT}`);
        assert.equal(await textOf(page.locator('.product .stock')), 'Only 1 left');
        assert.deepEqual(await page.getByLabel('Quantity').locator('option').allTextContents(), ['1']);
        assert.deepEqual(await contrastProblems(page, ['.stock']), []);
        await tab.snap('commerce-06-one-left');

        // It sells out while the page is open: the addition is refused and the page says so.
        level = await ctx.shop.operator('PUT', `/admin/stock/${SELL_OUT}`, { stock: 0 });
        assert.deepEqual({ sku: level.sku, stock: level.stock }, { sku: SELL_OUT, stock: 0 });
        await Promise.all([page.waitForURL(new RegExp(`/product/${SELL_OUT}\\?error=stock$`)), page.getByRole('button', { name: 'Add to cart' }).click()]);
        const alert = page.getByRole('alert');
        assert.equal(await textOf(alert.locator('h2')), "We couldn't add that to your cart");
        assert.equal(await textOf(alert.locator('p')), `${SELL_OUT_NAME} is sold out.`);
        assert.equal(await page.locator('.cart-count').count() ? await textOf(page.locator('.cart-count')) : '0', '0', 'nothing was added');

        // Sold out: said in words (not by colour alone), and nothing to press.
        assert.equal(await textOf(page.locator('.product .stock')), 'Sold out');
        assert.match(await textOf(page.locator('.unavailable')), /^Sold out — this item can't be added to your cart right now\.$/);
        assert.equal(await page.getByRole('button', { name: 'Add to cart' }).count(), 0);
        assert.equal(await page.getByLabel('Quantity').count(), 0);
        assert.equal(await page.locator('form[action="/cart/add"]').count(), 0);
        assert.deepEqual(await contrastProblems(page, ['.stock', '.unavailable p', '.alert h2', '.alert p']), []);
        await tab.snap('commerce-07-sold-out');

        // The catalogue says so on the card too; the seed's sold-out lamp and nearly gone sticker as well.
        await page.goto('/?category=home');
        const card = page.locator('.card', { has: page.getByRole('link', { name: SELL_OUT_NAME }) });
        assert.equal(await textOf(card.locator('.card-stock')), 'Sold out');
        const lamp = page.locator('.card', { has: page.getByRole('link', { name: 'Arc Reading Lamp' }) });
        assert.equal(await textOf(lamp.locator('.card-stock')), 'Sold out');
        assert.deepEqual(await contrastProblems(page, ['.card-stock']), []);
        await page.goto('/product/OFF-STICKER-CORAL');
        assert.match(await textOf(page.locator('.product .stock')), /^Only [1-3] left$/);
        await page.goto('/product/HOM-LAMP-AMBER');
        assert.equal(await page.getByRole('button', { name: 'Add to cart' }).count(), 0);
      } finally {
        await ctx.shop.operator('PUT', `/admin/stock/${SELL_OUT}`, { stock: 1000 });
      }
    });
  });

  test('after an order of two products, each is recommended with the other', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      for (const [sku] of PAIR) await addToCart(page, sku, 1);
      await page.goto('/checkout');
      await fillCheckout(page, ADA, GOOD_CARD);
      await Promise.all([page.waitForURL(/\/order\/[^/?]+\?placed=1$/), page.getByRole('button', { name: 'Place order' }).click()]);

      const [[first, firstName], [, secondName]] = PAIR;
      await page.goto(`/product/${first}`);
      const row = page.getByRole('region', { name: 'Often bought together' });
      assert.equal(await row.count(), 1);
      const names = await row.locator('.card h3').allTextContents();
      assert.ok(names.length >= 1 && names.length <= 4, `up to four: ${names}`);
      assert.equal(names[0].trim(), secondName, `bought together first: ${names}`);
      assert.ok(!names.map((n) => n.trim()).includes(firstName), 'never the product itself');
      assert.equal(await row.locator('.card h2').count(), 0, 'the cards are headed below the row’s heading');
      assert.equal(await page.locator('h1').count(), 1);
      for (const p of await row.locator('.price').allTextContents()) assert.match(p, /^\$/);
      await tab.snap('commerce-08-recommended-on-product');

      // The cart with one of them recommends the other, in the shopper's currency.
      await pickCurrency(page, 'EUR');
      await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
      const cartRow = page.getByRole('region', { name: 'Often bought together' });
      const inCart = await cartRow.locator('.card h3').allTextContents();
      assert.equal(inCart[0].trim(), secondName, `the cart's recommendations: ${inCart}`);
      for (const p of await cartRow.locator('.price').allTextContents()) assert.match(p, /^€/);
      // The whole card is the link: it is reached with Tab and shows the focus ring.
      await cartRow.getByRole('link', { name: secondName }).focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const ring = await focusIndicator(page);
      assert.ok(ring.ok, ring.what);
      await tab.snap('commerce-09-recommended-in-cart');
    });
  });
}
