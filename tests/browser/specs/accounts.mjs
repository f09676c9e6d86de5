// Shopper accounts in the browser: a guest orders, creates an account from the header (fixing a
// weak password first) and finds the order attached; signs out; signs in on a second device
// (another browser context) after a wrong password, and sees the same orders; signs out there.
// Plus the account pages' accessibility: every page checked by Tab.snap, the forms' errors tied
// to their fields.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { withPage, textOf } from '../support/browser.mjs';
import { ADA, GOOD_CARD, addToCart, fillCheckout } from '../support/shopper.mjs';

const PASSWORD = 'mauve otter kettle 17';

/** A new email per test and screen size: the shop (and its accounts) is shared by the run. */
function newEmail(vp) {
  return `ada-${vp.name}-${randomBytes(4).toString('hex')}@example.com`;
}

const accountBar = (page) => page.getByRole('navigation', { name: 'Account' });

/** Fills and sends the sign-in or sign-up form, waiting for the page it answers with. */
async function sendAccountForm(page, email, password, button) {
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: button, exact: true }).click()]);
}

async function signOut(page) {
  await Promise.all([page.waitForURL(/\/account\/sign-in\?notice=signed-out$/), accountBar(page).getByRole('button', { name: 'Sign out' }).click()]);
}

export default function accounts(ctx, vp) {
  test('a shopper signs up after a guest order, signs in on another device, sees the orders and signs out', async () => {
    const email = newEmail(vp);
    let orderId;
    await withPage(ctx, vp, async (page, tab) => {
      // A guest order first.
      await addToCart(page, 'KIT-MUG-TEAL', 1);
      await page.goto('/checkout');
      assert.ok(await page.getByRole('link', { name: 'Sign in' }).first().isVisible(), 'checkout offers to sign in');
      await fillCheckout(page, ADA, GOOD_CARD);
      await Promise.all([page.waitForURL(/\/order\/[^/?]+\?placed=1$/), page.getByRole('button', { name: 'Place order' }).click()]);
      orderId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());

      // "Create account" in the header, from "Your orders": back there afterwards.
      await page.goto('/orders');
      await tab.snap('accounts-01-guest-orders');
      await Promise.all([page.waitForURL(/\/account\/sign-up\?next=%2Forders$/), accountBar(page).getByRole('link', { name: 'Create account' }).click()]);
      assert.equal(await textOf(page.locator('h1')), 'Create an account');
      await tab.snap('accounts-02-sign-up-form');

      // A weak password is explained beside the field; the email is kept, the password is not.
      await sendAccountForm(page, email, 'password1234', 'Create account');
      const password = page.getByLabel('Password', { exact: true });
      assert.equal(await password.getAttribute('aria-invalid'), 'true');
      assert.match(await textOf(page.locator('#password-error')), /too common/);
      assert.match(await password.getAttribute('aria-describedby'), /\bpassword-error\b/);
      assert.equal(await page.getByLabel('Email address').inputValue(), email);
      assert.equal(await password.inputValue(), '');
      await tab.snap('accounts-03-sign-up-weak-password');

      await sendAccountForm(page, email, PASSWORD, 'Create account');
      assert.match(page.url(), /\/orders$/);
      assert.match(await textOf(accountBar(page)), new RegExp(`Signed in as ${email.replace(/[.]/g, '\\.')}`));
      const listed = page.getByRole('link', { name: new RegExp(`Order ${orderId}`) });
      assert.equal(await listed.count(), 1, 'the guest order came along into the account');
      assert.match(await textOf(page.locator('.page-head p')), /all your devices/);
      await tab.snap('accounts-04-signed-in-orders');

      // "Your account".
      await Promise.all([page.waitForURL(/\/account$/), accountBar(page).getByRole('link', { name: 'Your account' }).click()]);
      assert.equal(await textOf(page.locator('h1')), 'Your account');
      assert.match(await textOf(page.locator('main')), new RegExp(email.replace(/[.]/g, '\\.')));
      await tab.snap('accounts-05-your-account');

      await signOut(page);
      assert.equal(await textOf(page.getByRole('status')), "You're signed out.");
      assert.ok(await accountBar(page).getByRole('link', { name: 'Sign in' }).isVisible());
      await page.goto('/orders');
      assert.equal(await page.locator('.order-list a').count(), 0, 'signed out, the browser is a new guest');
      await tab.snap('accounts-06-signed-out');
    });

    // Another device.
    await withPage(ctx, vp, async (page, tab) => {
      await page.goto('/orders');
      await Promise.all([page.waitForURL(/\/account\/sign-in\?next=%2Forders$/), accountBar(page).getByRole('link', { name: 'Sign in' }).click()]);
      await tab.snap('accounts-07-sign-in-form');
      await sendAccountForm(page, email, 'not my password at all', 'Sign in');
      assert.equal(await textOf(page.getByRole('alert').locator('p')), 'Email or password is incorrect.');
      assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
      await tab.snap('accounts-08-sign-in-wrong-password');

      await sendAccountForm(page, email, PASSWORD, 'Sign in');
      assert.match(page.url(), /\/orders$/);
      assert.equal(await page.getByRole('link', { name: new RegExp(`Order ${orderId}`) }).count(), 1, "the first device's order");
      await tab.snap('accounts-09-orders-on-another-device');

      // Checkout starts from the account's email; an order placed signed in saves its address,
      // which the next checkout starts from.
      await addToCart(page, 'APP-TEE-TEAL', 1);
      await page.goto('/checkout');
      assert.equal(await page.getByLabel('Email address').inputValue(), email);
      assert.equal(await page.getByText('Have an account?').count(), 0, 'no offer to sign in: signed in already');
      await fillCheckout(page, { ...ADA, email }, GOOD_CARD);
      await Promise.all([page.waitForURL(/\/order\/[^/?]+\?placed=1$/), page.getByRole('button', { name: 'Place order' }).click()]);
      await addToCart(page, 'APP-TEE-TEAL', 1);
      await page.goto('/checkout');
      assert.equal(await page.getByLabel('Street address').inputValue(), ADA.street);
      assert.equal(await page.getByLabel('Country').inputValue(), ADA.country);
      await tab.snap('accounts-10-checkout-prefilled');
      await page.goto('/account');
      assert.match(await textOf(page.locator('.addresses')), /12 Analytical Row/);
      await tab.snap('accounts-11-your-account-saved-address');

      await signOut(page);
    });
  });

  test('the account forms mark every field with a problem, tied to its message', async () => {
    await withPage(ctx, vp, async (page, tab) => {
      for (const [url, button, name] of [
        ['/account/sign-up', 'Create account', 'a11y-10-sign-up-all-errors'],
        ['/account/sign-in', 'Sign in', 'a11y-11-sign-in-all-errors'],
      ]) {
        assert.equal((await page.goto(url)).status(), 200);
        await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: button, exact: true }).click()]);
        const alert = page.getByRole('alert');
        assert.equal(await textOf(alert.locator('h2')), 'Please check your details');
        const invalid = await page.locator('[aria-invalid="true"]').evaluateAll((els) =>
          els.map((el) => ({
            id: el.id,
            described: (el.getAttribute('aria-describedby') || '').split(/\s+/).map((id) => document.getElementById(id)?.textContent.trim()).filter(Boolean),
          })),
        );
        assert.deepEqual(invalid.map((f) => f.id), ['email', 'password'], url);
        for (const f of invalid) assert.ok(f.described.length > 0, `${f.id} is described by its error message`);
        await tab.snap(name);
        const links = await alert.getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        assert.deepEqual(links, ['#email', '#password']);
        await alert.getByRole('link').first().click();
        assert.equal(await page.evaluate(() => document.activeElement.id), 'email', 'the summary link focuses its field');
      }

      // The password form of "Your account" too.
      await page.goto('/account/sign-up');
      await sendAccountForm(page, newEmail(vp), PASSWORD, 'Create account');
      await page.goto('/account');
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Change password' }).click()]);
      const ids = await page.locator('[aria-invalid="true"]').evaluateAll((els) => els.map((el) => el.id));
      assert.deepEqual(ids, ['current_password', 'new_password']);
      await tab.snap('a11y-12-change-password-errors');
      await signOut(page);
    });
  });
}
