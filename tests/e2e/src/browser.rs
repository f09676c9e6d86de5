//! A shopper's browser, as far as the tests need one: cookies, forms with the CSRF token, and
//! redirects inspected rather than followed.
use anyhow::{Context, Result};
use reqwest::cookie::CookieStore;

/// A page or redirect as the browser received it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub struct Browser {
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client builds");
        Browser { client, jar, base: base.to_string() }
    }

    /// A browser that sends `headers` with every request (e.g. a `traceparent`, as a traced
    /// client or an ingress would).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("a reqwest client builds");
        Browser { client, jar, base: base.to_string() }
    }

    /// A new browser holding exactly `cookies` (e.g. an old session cookie, replayed alone).
    pub fn with_cookies(base: &str, cookies: &[(&str, &str)]) -> Browser {
        let browser = Browser::new(base);
        let url: reqwest::Url = base.parse().expect("the shop's base URL parses");
        for (name, value) in cookies {
            browser.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &url);
        }
        browser
    }

    /// Another tab of the same browser: same cookies, same CSRF token.
    pub fn clone_session(&self) -> Browser {
        Browser { client: self.client.clone(), jar: self.jar.clone(), base: self.base.clone() }
    }

    pub async fn get(&mut self, path: &str) -> Result<Page> {
        let page = read(self.client.get(format!("{}{path}", self.base)).send().await?).await?;
        Ok(page)
    }

    /// Submits a form with the session's CSRF token (visiting the home page first if needed).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
        if self.cookie("csrf").is_none() {
            self.get("/").await?;
        }
        // Double-submit: the form field repeats the `csrf` cookie the shop set.
        let token = self.cookie("csrf").context("the shop set no csrf cookie")?;
        let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Submits exactly `fields`, with no CSRF token added.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Page> {
        let page = read(self.client.post(format!("{}{path}", self.base)).form(fields).send().await?).await?;
        Ok(page)
    }

    /// Follows a redirect an answer asked for.
    pub async fn follow(&mut self, page: &Page) -> Result<Page> {
        let location = page.location.clone().context("the answer is not a redirect")?;
        self.get(&location).await
    }

    /// The session id the shop put in the `sid` cookie.
    pub fn session(&self) -> Option<String> {
        self.cookie("sid")
    }

    /// The value of cookie `name` in the jar (e.g. `auth` once signed in).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: reqwest::Url = self.base.parse().ok()?;
        let header = self.jar.cookies(&url)?;
        let prefix = format!("{name}=");
        header.to_str().ok()?.split("; ").find_map(|c| c.strip_prefix(prefix.as_str())).map(str::to_string)
    }
}

async fn read(response: reqwest::Response) -> Result<Page> {
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = response.text().await?;
    Ok(Page { status, location, body })
}
