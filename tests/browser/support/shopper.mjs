// What a shopper does again and again, in the browser.
import assert from 'node:assert/strict';

export const GOOD_CARD = '4242 4242 4242 4242';
export const DECLINED_CARD = '4000 0000 0000 0002';
export const EXPIRY_YEAR = String(new Date().getUTCFullYear() + 4);

export const ADA = {
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  street: '12 Analytical Row',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
  expiryMonth: '12',
  expiryYear: EXPIRY_YEAR,
  cvv: '123',
};

/** `$1,234.50` → 123450 */
export function cents(text) {
  const m = /\$([\d,]+)\.(\d\d)/.exec(text);
  assert.ok(m, `no dollar amount in ${JSON.stringify(text)}`);
  return Number(m[1].replace(/,/g, '')) * 100 + Number(m[2]);
}

/** Opens a product page by its SKU, picks a quantity and adds it; ends on the cart page. */
export async function addToCart(page, sku, quantity = 1) {
  await page.goto(`/product/${sku}`);
  await page.getByLabel('Quantity').selectOption(String(quantity));
  await Promise.all([page.waitForURL(/\/cart\?notice=added/), page.getByRole('button', { name: 'Add to cart' }).click()]);
}

/** Fills the checkout form; `card` is the card number (the CVV comes from `who`). */
export async function fillCheckout(page, who, card) {
  await page.getByLabel('Email address').fill(who.email);
  await page.getByLabel('Full name').fill(who.name);
  await page.getByLabel('Street address').fill(who.street);
  await page.getByLabel('City').fill(who.city);
  await page.getByLabel('Postal code').fill(who.postalCode);
  await page.getByLabel('Country').selectOption(who.country);
  await page.getByLabel('Card number').fill(card);
  await page.getByLabel('Expiry month').selectOption(who.expiryMonth);
  await page.getByLabel('Expiry year').selectOption(who.expiryYear);
  await page.getByLabel('Security code (CVV)').fill(who.cvv);
}

/** Submits the checkout form and waits for the page it answers with (or redirects to) to load. */
export async function placeOrder(page) {
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Place order' }).click()]);
}

/** The "dt → dd" pairs of a definition list, e.g. the totals or the order facts. */
export async function definitions(locator) {
  return locator.evaluate((dl) => {
    const out = {};
    for (const dt of dl.querySelectorAll('dt')) {
      out[dt.textContent.replace(/\s+/g, ' ').trim()] = dt.nextElementSibling?.textContent.replace(/\s+/g, ' ').trim();
    }
    return out;
  });
}
