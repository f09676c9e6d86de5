//! Just enough HTML reading for tests: find hidden inputs and check text.

/// The `value` of the first `<input>` with `name="{name}"`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let rest = &tag[v..];
    Some(unescape(&rest[..rest.find('"')?]))
}

/// Undoes the escaping of text and attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_hidden_inputs_whatever_the_attribute_order() {
        let html = r#"<form><input type="hidden" name="csrf" value="a&amp;b"><input value="7" name="qty"></form>"#;
        assert_eq!(input_value(html, "csrf").as_deref(), Some("a&b"));
        assert_eq!(input_value(html, "qty").as_deref(), Some("7"));
        assert_eq!(input_value(html, "missing"), None);
    }
}
