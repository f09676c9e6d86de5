//! W3C Trace Context (level 1) for the shop's own calls: reading `traceparent` / `tracestate`
//! strictly, minting a context when none (or a malformed one) arrives, and writing the
//! `traceparent` of each outgoing call. Pure: randomness comes in as bytes, so every rule is
//! unit-tested natively; `serve` and `rpc` do the I/O around it.
//!
//! Why the guest does this at all (docs/observability.md, "Trace context through the shop"):
//! with OTel enabled Spin injects its own span's context into every outgoing request and
//! *replaces* ours, so forwarding is harmless; with OTel disabled Spin injects nothing, and
//! forwarding is what keeps one trace id across the services' log lines.

/// Header names (lowercase, as the hosts hand them to guests).
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` kept (and passed on). W3C asks vendors to propagate at least 512
/// characters; a longer one is dropped whole rather than cut mid-member.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// A 16-byte trace id, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// 32 lowercase hex digits, as in `traceparent` and in the log line's `trace_id`.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl SpanId {
    /// 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// The trace context of the request being answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: TraceId,
    /// The caller's span (`parent-id` of the incoming `traceparent`); `None` when minted here.
    pub parent_id: Option<SpanId>,
    /// The `sampled` flag, passed on as received (minted contexts: not sampled, see [`mint`]).
    pub sampled: bool,
    /// The incoming `tracestate`, kept only with a valid `traceparent` and when well-formed.
    pub state: Option<String>,
}

/// A well-formed `traceparent` of version `00`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex
/// flags>`, lowercase hex only, ids not all zero, exactly 55 characters (a longer value, e.g.
/// with a future version's extra fields, is refused: only version 00 is accepted). Anything
/// else is `None`.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, u8)> {
    let b = value.as_bytes();
    if b.len() != 55 || &b[0..3] != b"00-" || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    let mut flags = [0u8; 1];
    unhex(&b[3..35], &mut trace)?;
    unhex(&b[36..52], &mut span)?;
    unhex(&b[53..55], &mut flags)?;
    if trace == [0; 16] || span == [0; 8] {
        return None;
    }
    Some((TraceId(trace), SpanId(span), flags[0]))
}

/// A `tracestate` worth passing on: not blank, at most [`MAX_TRACESTATE_LEN`] bytes, printable
/// ASCII only (no control characters, so no CR/LF). Its list members are opaque to the shop.
pub fn parse_tracestate(value: &str) -> Option<&str> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    let ok = !v.is_empty() && v.len() <= MAX_TRACESTATE_LEN && v.bytes().all(|b| (0x20..=0x7e).contains(&b));
    ok.then_some(v)
}

/// A fresh context: the trace id from `random` (made non-zero if it happens to be zero), no
/// parent, not sampled. Not sampled because the shop records no spans itself: setting the flag
/// would tell a traced service downstream that a parent span exists when none was exported.
pub fn mint(random: [u8; 16]) -> TraceContext {
    TraceContext { trace_id: TraceId(non_zero(random)), parent_id: None, sampled: false, state: None }
}

impl TraceContext {
    /// The context of an incoming request: the received one when `traceparent` is valid (with
    /// its `tracestate` if that is valid too), else a minted one from `random`. A malformed
    /// header is never kept, so it is never logged or sent on.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>, random: [u8; 16]) -> TraceContext {
        match traceparent.and_then(parse_traceparent) {
            Some((trace_id, parent_id, flags)) => TraceContext {
                trace_id,
                parent_id: Some(parent_id),
                sampled: flags & 0x01 == 0x01,
                state: tracestate.and_then(parse_tracestate).map(str::to_string),
            },
            None => mint(random),
        }
    }

    /// The `traceparent` of one outgoing call: same trace id, `span` (fresh per call, so each
    /// hop is distinct) as the parent id, and only the `sampled` flag (the one level 1 defines).
    pub fn outgoing_traceparent(&self, span: [u8; 8]) -> String {
        let span = SpanId(non_zero(span));
        format!("00-{}-{}-{:02x}", self.trace_id.to_hex(), span.to_hex(), u8::from(self.sampled))
    }
}

fn non_zero<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    if bytes.iter().all(|b| *b == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Lowercase hex digits into `out` (exactly twice as many digits as bytes); `None` otherwise.
fn unhex(digits: &[u8], out: &mut [u8]) -> Option<()> {
    if digits.len() != out.len() * 2 {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00f067aa0ba902b7";

    fn tp(trace: &str, parent: &str, flags: &str) -> String {
        format!("00-{trace}-{parent}-{flags}")
    }

    fn crlf() -> String {
        let mut s = tp(TRACE, PARENT, "01");
        s.replace_range(40..42, "\r\n");
        s
    }

    #[test]
    fn a_valid_traceparent_is_read() {
        let (trace, parent, flags) = parse_traceparent(&tp(TRACE, PARENT, "01")).unwrap();
        assert_eq!((trace.to_hex().as_str(), parent.to_hex().as_str(), flags), (TRACE, PARENT, 1));
        let (_, _, flags) = parse_traceparent(&tp(TRACE, PARENT, "00")).unwrap();
        assert_eq!(flags, 0);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        let zeros32 = "0".repeat(32);
        let zeros16 = "0".repeat(16);
        let bad = [
            String::new(),
            tp(TRACE, PARENT, "01").replacen("00-", "01-", 1),          // another version
            tp(TRACE, PARENT, "01").replacen("00-", "ff-", 1),          // the forbidden version
            tp(&zeros32, PARENT, "01"),                                  // all-zero trace id
            tp(TRACE, &zeros16, "01"),                                   // all-zero parent id
            tp(&TRACE.to_uppercase(), PARENT, "01"),                     // uppercase hex
            tp(TRACE, &PARENT.to_uppercase(), "01"),
            tp(TRACE, PARENT, "0A"),
            format!("{}-00", tp(TRACE, PARENT, "01")),                   // overlong
            format!("{} ", tp(TRACE, PARENT, "01")),
            format!(" {}", tp(TRACE, PARENT, "01")),
            tp(&TRACE[..31], PARENT, "01"),                              // short trace id
            tp(TRACE, PARENT, "1"),
            crlf(),                                                      // CR/LF inside
            tp(TRACE, PARENT, "01").replace('-', "_"),
            tp(&TRACE.replacen('4', "g", 1), PARENT, "01"),              // not hex
            tp(TRACE, PARENT, "01").replacen("b7", "é", 1),              // not ASCII, right length
        ];
        for value in bad {
            assert_eq!(parse_traceparent(&value), None, "{value:?}");
        }
    }

    #[test]
    fn tracestate_is_bounded_and_printable() {
        assert_eq!(parse_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
        assert_eq!(parse_tracestate("  a=1 "), Some("a=1"));
        assert_eq!(parse_tracestate(""), None, "Spin with OTel on may send an empty one");
        assert_eq!(parse_tracestate("   "), None);
        assert_eq!(parse_tracestate("a=1\r\nx-evil: 1"), None);
        assert_eq!(parse_tracestate("a=\u{7f}"), None);
        assert_eq!(parse_tracestate("a=é"), None);
        let long = format!("a={}", "x".repeat(MAX_TRACESTATE_LEN - 2));
        assert_eq!(parse_tracestate(&long), Some(long.as_str()));
        assert_eq!(parse_tracestate(&format!("{long}x")), None);
    }

    #[test]
    fn a_valid_incoming_context_is_kept_and_a_malformed_one_replaced() {
        let random = [7u8; 16];
        let kept = TraceContext::from_headers(Some(&tp(TRACE, PARENT, "01")), Some("a=1"), random);
        assert_eq!(kept.trace_id.to_hex(), TRACE);
        assert_eq!(kept.parent_id.map(|p| p.to_hex()), Some(PARENT.to_string()));
        assert!(kept.sampled);
        assert_eq!(kept.state.as_deref(), Some("a=1"));

        let replaced = TraceContext::from_headers(Some(&tp(&TRACE.to_uppercase(), PARENT, "01")), Some("a=1"), random);
        assert_eq!(replaced, mint(random));
        assert_eq!(replaced.state, None, "tracestate without a valid traceparent is dropped");
        assert_eq!(TraceContext::from_headers(None, None, random).trace_id.to_hex(), "07".repeat(16));

        let bad_state = TraceContext::from_headers(Some(&tp(TRACE, PARENT, "00")), Some("a=1\n"), random);
        assert_eq!((bad_state.trace_id, bad_state.state, bad_state.sampled), (kept.trace_id, None, false));
    }

    #[test]
    fn minted_ids_are_never_zero() {
        assert_eq!(mint([0; 16]).trace_id.to_hex(), format!("{}01", "0".repeat(30)));
        let ctx = mint([0xab; 16]);
        assert_eq!((ctx.parent_id, ctx.sampled, ctx.state.as_deref()), (None, false, None));
        assert!(ctx.outgoing_traceparent([0; 8]).ends_with("-0000000000000001-00"));
    }

    #[test]
    fn outgoing_traceparents_keep_the_trace_id_and_are_valid() {
        let ctx = TraceContext::from_headers(Some(&tp(TRACE, PARENT, "ff")), None, [1; 16]);
        let out = ctx.outgoing_traceparent([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        assert_eq!(out, format!("00-{TRACE}-123456789abcdef0-01"), "only the sampled flag goes on");
        let (trace, span, _) = parse_traceparent(&out).unwrap();
        assert_eq!((trace, span.to_hex()), (ctx.trace_id, "123456789abcdef0".to_string()));
        assert_ne!(ctx.outgoing_traceparent([2; 8]), ctx.outgoing_traceparent([3; 8]), "each hop is distinct");
        let minted = mint([0xcd; 16]).outgoing_traceparent([9; 8]);
        assert_eq!(parse_traceparent(&minted).map(|(t, _, f)| (t.to_hex(), f)), Some(("cd".repeat(16), 0)));
    }
}
