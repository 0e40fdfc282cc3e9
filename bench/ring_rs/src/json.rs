//! A minimal writer for the flat JSON objects the benchmark prints, one per line.

use std::fmt::Write as _;

/// A JSON object under construction; keys keep the order they were added in.
#[derive(Debug, Default)]
pub struct Object {
    /// The members written so far, without the braces.
    body: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `"key": ` (with a separator if needed) and returns the buffer to write the value.
    fn key(&mut self, key: &str) -> &mut String {
        if !self.body.is_empty() {
            self.body.push_str(", ");
        }
        write_string(&mut self.body, key);
        self.body.push_str(": ");
        &mut self.body
    }

    /// Adds a string member.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        write_string(self.key(key), value);
        self
    }

    /// Adds an integer member.
    pub fn int(mut self, key: &str, value: u64) -> Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// Adds a number member with `decimals` digits after the point (`null` if not finite).
    pub fn float(mut self, key: &str, value: f64, decimals: usize) -> Self {
        let out = self.key(key);
        if value.is_finite() {
            let _ = write!(out, "{value:.decimals$}");
        } else {
            out.push_str("null");
        }
        self
    }

    /// Adds a boolean member.
    pub fn boolean(mut self, key: &str, value: bool) -> Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// Adds a `null` member.
    pub fn null(mut self, key: &str) -> Self {
        self.key(key).push_str("null");
        self
    }

    /// Adds a nested object member.
    pub fn object(mut self, key: &str, value: Object) -> Self {
        let rendered = value.finish();
        self.key(key).push_str(&rendered);
        self
    }

    /// Adds an array of integers.
    pub fn ints(mut self, key: &str, values: &[u64]) -> Self {
        let items: Vec<String> = values.iter().map(u64::to_string).collect();
        let _ = write!(self.key(key), "[{}]", items.join(", "));
        self
    }

    /// The object as one line of JSON.
    pub fn finish(self) -> String {
        format!("{{{}}}", self.body)
    }
}

/// Writes `s` as a JSON string literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::Object;

    #[test]
    fn renders_members_in_order_and_escapes_strings() {
        let inner = Object::new().float("p50", 0.23456, 3);
        let line = Object::new()
            .string("transport", "a\"b\\c\n")
            .int("n", 7)
            .float("nan", f64::NAN, 1)
            .boolean("pinned", false)
            .null("rtt")
            .ints("cores", &[0, 1])
            .object("rtt_us", inner)
            .finish();
        assert_eq!(
            line,
            r#"{"transport": "a\"b\\c\n", "n": 7, "nan": null, "pinned": false, "rtt": null, "cores": [0, 1], "rtt_us": {"p50": 0.235}}"#
        );
    }
}
