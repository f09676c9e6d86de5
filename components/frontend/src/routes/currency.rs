//! `GET /currency?code=EUR&next=/cart`: the header's currency picker. A code the shop sells in
//! is kept in the `currency` cookie; anything else changes nothing. Either way the shopper goes
//! back to `next` (a path of this shop, else the home page).
use shop_domain::Currency;

use crate::app::Ctx;
use crate::currency;
use crate::http::Outgoing;
use crate::next_path::NextPath;

pub fn choose<B>(ctx: &Ctx<'_, B>) -> Outgoing {
    let next = ctx.query.get("next").and_then(NextPath::page);
    let back = Outgoing::see_other(next.as_ref().map_or("/", NextPath::as_str));
    match ctx.query.get("code").map(Currency::parse) {
        Some(Ok(chosen)) => back.with_header("set-cookie", currency::set_cookie(chosen, ctx.config.secure_cookies)),
        Some(Err(_)) | None => back,
    }
}
