//! The account pages: sign in, create an account, and "Your account" (details, saved addresses,
//! password). Passwords are never written back into a page.
use maud::{html, Markup};
use shop_contract::accounts::SavedAddress;

use crate::forms::Form;
use crate::next_path::NextPath;
use crate::views::orders::address_lines;
use crate::views::{format, parts};

/// What went wrong with a form: messages beside fields (the first per field wins), and an alert
/// above it for what belongs to no field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    pub fields: Vec<(String, String)>,
    pub alert: Option<(String, String)>,
}

impl Problems {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| f == name).map(|(_, m)| m.as_str())
    }

    pub fn add(&mut self, field: &str, message: &str) {
        if self.field(field).is_none() {
            self.fields.push((field.to_string(), message.to_string()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.alert.is_none()
    }

    fn render(&self, fields: &[&str]) -> Markup {
        html! {
            @if let Some((title, text)) = &self.alert { (parts::alert(title, text)) }
            (parts::error_summary(&self.fields, fields))
        }
    }
}

/// The sign-in and sign-up forms as shown: the email typed (never the password), where to go
/// afterwards, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthForm {
    pub email: String,
    pub next: Option<NextPath>,
    pub problems: Problems,
}

/// Which of the two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    SignIn,
    SignUp,
}

const AUTH_FIELDS: [&str; 2] = ["email", "password"];

/// A fixed notice for the sign-in page, chosen by a code in its URL.
pub const SIGNED_OUT: &str = "signed-out";

pub fn auth_page(kind: AuthKind, form: &AuthForm, csrf: &str, notice: Option<&str>) -> Markup {
    let (title, action, button) = match kind {
        AuthKind::SignIn => ("Sign in", "/account/sign-in", "Sign in"),
        AuthKind::SignUp => ("Create an account", "/account/sign-up", "Create account"),
    };
    let password = match kind {
        AuthKind::SignIn => parts::Input {
            id: "password",
            label: "Password",
            value: "",
            kind: "password",
            autocomplete: "current-password",
            inputmode: None,
            hint: None,
            error: form.problems.field("password"),
        },
        AuthKind::SignUp => parts::Input {
            id: "password",
            label: "Password",
            value: "",
            kind: "password",
            autocomplete: "new-password",
            inputmode: None,
            hint: Some("At least 12 characters. A few unrelated words make a strong password that is easy to remember."),
            error: form.problems.field("password"),
        },
    };
    let next_query = NextPath::query(form.next.as_ref());
    html! {
        div.auth {
            div.page-head { h1 { (title) } }
            @if notice == Some(SIGNED_OUT) { (parts::notice("You're signed out.")) }
            (form.problems.render(&AUTH_FIELDS))
            form.panel method="post" action=(action) novalidate {
                (parts::csrf_field(csrf))
                @if let Some(next) = &form.next { input type="hidden" name="next" value=(next.as_str()); }
                (parts::input(&parts::Input {
                    id: "email",
                    label: "Email address",
                    value: &form.email,
                    kind: "email",
                    autocomplete: if kind == AuthKind::SignIn { "username" } else { "email" },
                    inputmode: None,
                    hint: None,
                    error: form.problems.field("email"),
                }))
                (parts::input(&password))
                button.btn-large type="submit" { (button) }
            }
            @match kind {
                AuthKind::SignIn => p { "New here? " a href={ "/account/sign-up" (next_query) } { "Create an account" } },
                AuthKind::SignUp => {
                    p.hint { "Your cart and the orders placed in this browser come with you into the account." }
                    p { "Already have an account? " a href={ "/account/sign-in" (next_query) } { "Sign in" } }
                }
            }
            p.hint { "You never need an account to shop: checkout works without one." }
        }
    }
}

/// What "Your account" reports after something was done, chosen by codes in its URL (numbers
/// parsed as numbers), so a crafted link can't make the shop say anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountNotice {
    /// Signed up; `claimed` orders of this browser were attached to the account.
    Welcome { claimed: u32 },
    /// Signed in (a guest's orders in this browser stay where they are: they may be another's).
    SignedIn,
    PasswordChanged { others_ended: u32 },
    AddressDeleted,
}

impl AccountNotice {
    pub fn parse(query: &Form) -> Option<AccountNotice> {
        let number = |name: &str| query.get(name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        match query.get("notice")? {
            "welcome" => Some(AccountNotice::Welcome { claimed: number("claimed") }),
            "signed-in" => Some(AccountNotice::SignedIn),
            "password-changed" => Some(AccountNotice::PasswordChanged { others_ended: number("ended") }),
            "address-deleted" => Some(AccountNotice::AddressDeleted),
            _ => None,
        }
    }

    /// `/account?notice=…`, where an action redirects to.
    pub fn url(self) -> String {
        match self {
            AccountNotice::Welcome { claimed } => format!("/account?notice=welcome&claimed={claimed}"),
            AccountNotice::SignedIn => "/account?notice=signed-in".to_string(),
            AccountNotice::PasswordChanged { others_ended } => format!("/account?notice=password-changed&ended={others_ended}"),
            AccountNotice::AddressDeleted => "/account?notice=address-deleted".to_string(),
        }
    }

    pub fn text(self) -> String {
        let claimed = |n: u32| match n {
            0 => String::new(),
            n => format!(" We've added the {} placed in this browser to your account.", format::count(n, "order", "orders")),
        };
        match self {
            AccountNotice::Welcome { claimed: n } => format!("Welcome! Your account is ready and you're signed in.{}", claimed(n)),
            AccountNotice::SignedIn => "You're signed in.".to_string(),
            AccountNotice::PasswordChanged { others_ended: 0 } => "Your password is changed.".to_string(),
            AccountNotice::PasswordChanged { others_ended } => format!(
                "Your password is changed. We signed you out of {}.",
                format::count(others_ended, "other session", "other sessions")
            ),
            AccountNotice::AddressDeleted => "The address is deleted.".to_string(),
        }
    }
}

const PASSWORD_FIELDS: [&str; 2] = ["current_password", "new_password"];

/// "Your account".
pub struct AccountView<'a> {
    pub email: &'a str,
    pub created_at: &'a str,
    /// `None` when the addresses could not be read (the rest of the page still works).
    pub addresses: Option<&'a [SavedAddress]>,
    pub notice: Option<AccountNotice>,
    /// Problems with the password form, when it came back.
    pub password: &'a Problems,
    pub csrf: &'a str,
}

pub fn account_page(v: &AccountView<'_>) -> Markup {
    html! {
        div.page-head { h1 { "Your account" } }
        @if let Some(notice) = v.notice { (parts::notice(&notice.text())) }
        div.account-sections {
            section.panel aria-labelledby="details-title" {
                h2 #details-title { "Details" }
                dl.facts {
                    div { dt { "Email address" } dd { (v.email) } }
                    div { dt { "Member since" } dd { (format::date(v.created_at)) } }
                }
                p { a href="/orders" { "See your orders" } }
            }
            section.panel aria-labelledby="addresses-title" {
                h2 #addresses-title { "Saved addresses" }
                @match v.addresses {
                    None => p { "We can't show your saved addresses right now. Please try again in a moment." },
                    Some([]) => p.hint { "None yet. The address of your next order is saved here, ready for the one after." },
                    Some(addresses) => {
                        ul.addresses {
                            @for saved in addresses {
                                li {
                                    address {
                                        @for (i, line) in address_lines(&saved.address).iter().enumerate() {
                                            @if i > 0 { br; }
                                            (line)
                                        }
                                    }
                                    p.hint { "Last used " (format::date(&saved.last_used_at)) }
                                    form method="post" action="/account/addresses/delete" {
                                        (parts::csrf_field(v.csrf))
                                        input type="hidden" name="address_id" value=(saved.address_id);
                                        button.link-button type="submit" {
                                            "Delete" span.visually-hidden { " the address " (saved.address.name) ", " (saved.address.street) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.panel aria-labelledby="password-title" {
                h2 #password-title { "Change your password" }
                (v.password.render(&PASSWORD_FIELDS))
                form method="post" action="/account/password" novalidate {
                    (parts::csrf_field(v.csrf))
                    (parts::input(&parts::Input {
                        id: "current_password",
                        label: "Current password",
                        value: "",
                        kind: "password",
                        autocomplete: "current-password",
                        inputmode: None,
                        hint: None,
                        error: v.password.field("current_password"),
                    }))
                    (parts::input(&parts::Input {
                        id: "new_password",
                        label: "New password",
                        value: "",
                        kind: "password",
                        autocomplete: "new-password",
                        inputmode: None,
                        hint: Some("At least 12 characters. Changing it signs you out everywhere else."),
                        error: v.password.field("new_password"),
                    }))
                    button type="submit" { "Change password" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_unknown_codes_say_nothing() {
        for notice in [
            AccountNotice::Welcome { claimed: 2 },
            AccountNotice::SignedIn,
            AccountNotice::PasswordChanged { others_ended: 3 },
            AccountNotice::AddressDeleted,
        ] {
            let url = notice.url();
            let query = Form::parse(url.split_once('?').unwrap().1.as_bytes()).unwrap();
            assert_eq!(AccountNotice::parse(&query), Some(notice), "{url}");
        }
        assert_eq!(AccountNotice::parse(&Form::parse(b"notice=%3Cb%3E").unwrap()), None);
        let odd = Form::parse(b"notice=password-changed&ended=lots").unwrap();
        assert_eq!(AccountNotice::parse(&odd), Some(AccountNotice::PasswordChanged { others_ended: 0 }));
        assert_eq!(AccountNotice::PasswordChanged { others_ended: 1 }.text(), "Your password is changed. We signed you out of 1 other session.");
        assert!(AccountNotice::Welcome { claimed: 2 }.text().ends_with("the 2 orders placed in this browser to your account."));
    }

    #[test]
    fn forms_never_show_a_password_and_tie_errors_to_fields() {
        let mut form = AuthForm { email: "ada@example.com".into(), ..AuthForm::default() };
        form.problems.add("password", "Password must be at least 12 characters");
        form.problems.add("password", "dropped");
        let html = auth_page(AuthKind::SignUp, &form, "tok", None).into_string();
        assert!(html.contains(r#"value="ada@example.com""#));
        assert!(html.contains(r#"id="password" name="password" type="password" value="" autocomplete="new-password""#));
        assert!(html.contains(r#"aria-describedby="password-hint password-error""#));
        assert!(html.contains(r##"<a href="#password">Password must be at least 12 characters</a>"##));
        assert!(!html.contains("dropped"));
        let html = auth_page(AuthKind::SignIn, &AuthForm::default(), "tok", Some(SIGNED_OUT)).into_string();
        assert!(html.contains("You're signed out.") && html.contains(r#"autocomplete="current-password""#));
        assert!(!html.contains("alert"));
    }
}
