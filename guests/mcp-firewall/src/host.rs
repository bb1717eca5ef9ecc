//! Hosts in URLs, read the way a client would read them, and normalised so that one domain has
//! one spelling.
//!
//! The tricks this defeats: userinfo (`https://good.com@evil.com` goes to `evil.com`), ports,
//! trailing dots, case, percent-escapes in the host, full-width letters and ideographic dots,
//! zero-width characters, Unicode domains against their `xn--` form, IPv4 written as one
//! decimal, hex or octal number (`http://2852039166/` is `169.254.169.254`), IPv4-mapped IPv6,
//! backslashes and tabs/newlines that WHATWG-conforming URL parsers drop or treat as `/`.
//!
//! Where a URL can be read several ways (browsers end the authority at `\`, RFC 3986 libraries do
//! not; parsers drop a newline that would end a URL in prose), every reading's host is returned
//! and the rules check each: a deny list blocks if any reading is denied, an allow list blocks
//! unless every reading is allowed.

use crate::text::{fold_width, is_invisible, percent_decode};

/// Schemes for which WHATWG parsers accept any number of `/` or `\` after `scheme:` (even none).
/// (`file` is special too, but its host is only what follows `//`, as with other schemes.)
const SPECIAL_SCHEMES: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];

/// The hosts of the URLs found in `text` (any `scheme://`, and special schemes written with
/// backslashes or missing slashes), normalised; at most three readings per URL.
pub fn hosts_in_text(text: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    let bytes = text.as_bytes();
    for (colon, _) in text.match_indices(':') {
        // The scheme is the run of scheme characters before the colon. The run stops at the
        // previous ':', so scanning back is linear over the whole text.
        let start = bytes[..colon]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .map_or(0, |i| i + 1);
        let scheme = &text[start..colon];
        if scheme.is_empty() || !scheme.as_bytes()[0].is_ascii_alphabetic() {
            continue;
        }
        let rest = &text[colon + 1..];
        let authority = if SPECIAL_SCHEMES
            .iter()
            .any(|special| scheme.eq_ignore_ascii_case(special))
        {
            rest.trim_start_matches(['/', '\\', '\t', '\n', '\r'])
        } else if let Some(after) = rest.strip_prefix("//") {
            after
        } else {
            continue;
        };
        push_hosts(authority, &mut hosts);
    }
    hosts
}

/// The hosts of a value that names a host or URL without a scheme (`example.com/path`,
/// `//example.com`, `user@example.com:8080`).
pub fn hosts_of_bare(value: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    push_hosts(value.trim().trim_start_matches(['/', '\\']), &mut hosts);
    hosts
}

fn push_hosts(after_slashes: &str, hosts: &mut Vec<String>) {
    for host in [
        // A browser's (WHATWG) reading: tab and newline are dropped, `/ \ ? #` end the authority.
        authority(
            after_slashes,
            |c| matches!(c, '\t' | '\n' | '\r'),
            |c| c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '#'),
        ),
        // An RFC 3986 reading (many HTTP libraries): a backslash is part of the userinfo, so
        // `https://good.com\@evil.com` goes to evil.com.
        authority(
            after_slashes,
            |_| false,
            |c| c.is_whitespace() || matches!(c, '/' | '?' | '#'),
        ),
        // A reader's reading of free text: whitespace and quotes end the URL too.
        authority(
            after_slashes,
            |_| false,
            |c| {
                c.is_whitespace()
                    || matches!(c, '/' | '\\' | '?' | '#' | '"' | '\'' | '<' | '>' | '`')
            },
        ),
    ]
    .into_iter()
    .filter_map(|authority| host_of_authority(&authority))
    {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
}

fn authority(text: &str, dropped: impl Fn(char) -> bool, ends: impl Fn(char) -> bool) -> String {
    text.chars()
        .filter(|&c| !dropped(c))
        .take_while(|&c| !ends(c))
        .collect()
}

/// The normalised host of `userinfo@host:port`, if it has one.
fn host_of_authority(authority: &str) -> Option<String> {
    // Sentence punctuation after a URL is not part of it (`see https://a.com).`).
    let authority = authority.trim_end_matches(['.', ',', ';', '!', ')', '}', '\'', '"']);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or(bracketed)
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    normalize_host(host)
}

/// One spelling per host: see the module documentation. `None` for an empty host.
pub fn normalize_host(host: &str) -> Option<String> {
    let decoded = percent_decode(host);
    let mut folded = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        let c = match fold_width(c) {
            '\u{3002}' | '\u{FF61}' => '.', // ideographic and half-width full stops
            c => c,
        };
        if is_invisible(c) {
            continue;
        }
        folded.extend(c.to_lowercase());
    }
    let trimmed = folded.trim_matches('.');
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.contains(':') {
        let ip = trimmed
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split('%') // a zone id
            .next()
            .unwrap_or_default();
        return Some(normalize_ipv6(ip).unwrap_or_else(|| ip.to_owned()));
    }
    if let Some(ip) = parse_ipv4(trimmed) {
        return Some(format_ipv4(ip));
    }
    if trimmed.is_ascii() {
        return Some(trimmed.to_owned());
    }
    let labels: Vec<String> = trimmed
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                label.to_owned()
            } else {
                punycode(label).map_or_else(|| label.to_owned(), |code| format!("xn--{code}"))
            }
        })
        .collect();
    Some(labels.join("."))
}

/// WHATWG's IPv4 parser: 1 to 4 dot-separated numbers, each decimal, `0x` hex or `0` octal, the
/// last filling the remaining bytes. `None` when the host is not an IPv4 address.
pub fn parse_ipv4(host: &str) -> Option<u32> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|part| parse_ipv4_number(part))
        .collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) || *last >= 256u64.pow(5 - numbers.len() as u32) {
        return None;
    }
    let mut address = *last;
    for (i, n) in leading.iter().enumerate() {
        address += n << (8 * (3 - i));
    }
    u32::try_from(address).ok()
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if hex.is_empty() {
                return Some(0);
            }
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

pub fn format_ipv4(address: u32) -> String {
    let [a, b, c, d] = address.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// An IPv6 address as eight uncompressed lowercase hex groups, or the IPv4 address when it is
/// IPv4-mapped (`::ffff:a.b.c.d`); `None` when it does not parse.
fn normalize_ipv6(text: &str) -> Option<String> {
    let groups = parse_ipv6(text)?;
    if groups[..5] == [0; 5] && groups[5] == 0xFFFF {
        let address = u32::from(groups[6]) << 16 | u32::from(groups[7]);
        return Some(format_ipv4(address));
    }
    let hex: Vec<String> = groups.iter().map(|g| format!("{g:x}")).collect();
    Some(hex.join(":"))
}

fn parse_ipv6(text: &str) -> Option<[u16; 8]> {
    let (head, tail) = match text.split_once("::") {
        Some((head, tail)) => (head, Some(tail)),
        None => (text, None),
    };
    let parse_side = |side: &str| -> Option<Vec<u16>> {
        if side.is_empty() {
            return Some(Vec::new());
        }
        let mut groups = Vec::new();
        let pieces: Vec<&str> = side.split(':').collect();
        for (i, piece) in pieces.iter().enumerate() {
            if i + 1 == pieces.len() && piece.contains('.') {
                let [a, b, c, d] = dotted_quad(piece)?.to_be_bytes();
                groups.push(u16::from_be_bytes([a, b]));
                groups.push(u16::from_be_bytes([c, d]));
            } else if (1..=4).contains(&piece.len()) {
                groups.push(u16::from_str_radix(piece, 16).ok()?);
            } else {
                return None;
            }
        }
        Some(groups)
    };
    let head = parse_side(head)?;
    let tail = match tail {
        Some(tail) => parse_side(tail)?,
        None if head.len() == 8 => Vec::new(),
        None => return None,
    };
    if head.len() + tail.len() > 8 || (text.contains("::") && head.len() + tail.len() == 8) {
        return None;
    }
    let mut groups = [0u16; 8];
    groups[..head.len()].copy_from_slice(&head);
    groups[8 - tail.len()..].copy_from_slice(&tail);
    Some(groups)
}

/// Strict `a.b.c.d` (IPv6 does not take the WHATWG number forms).
fn dotted_quad(text: &str) -> Option<u32> {
    let octets: Vec<u8> = text
        .split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let octets: [u8; 4] = octets.try_into().ok()?;
    Some(u32::from_be_bytes(octets))
}

/// RFC 3492 Punycode encoding of one label (without the `xn--` prefix). Labels are lowercased
/// first; the full IDNA mapping (NFKC and friends) is not done.
fn punycode(label: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const INITIAL_N: u32 = 128;
    const INITIAL_BIAS: u32 = 72;

    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut output: String = label.chars().filter(char::is_ascii).collect();
    let basic = output.len() as u32;
    let mut handled = basic;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    while (handled as usize) < input.len() {
        let m = input.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(punycode_digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(punycode_digit(q));
                bias = punycode_adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

fn punycode_adapt(delta: u32, points: u32, first: bool) -> u32 {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn punycode_digit(d: u32) -> char {
    // d < 36 by construction: 0..=25 are a..z, 26..=35 are 0..9.
    let byte = if d < 26 {
        b'a' + d as u8
    } else {
        b'0' + (d - 26) as u8
    };
    char::from(byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        hosts_in_text(text)
    }

    #[test]
    fn userinfo_ports_case_and_dots() {
        assert_eq!(hosts("https://good.com@evil.com/x"), ["evil.com"]);
        assert_eq!(
            hosts("https://a:b@good.com:8443@Evil.COM.:80/"),
            ["evil.com"]
        );
        assert_eq!(hosts("HTTP://Example.COM.."), ["example.com"]);
        assert_eq!(hosts("see https://a.com), then"), ["a.com"]);
        assert_eq!(hosts("https://[::1]:8080/x"), ["0:0:0:0:0:0:0:1"]);
        assert_eq!(
            hosts("mailto:bob@evil.com and C:\\x and a:b"),
            Vec::<String>::new()
        );
        assert_eq!(hosts("file:///etc/passwd"), Vec::<String>::new());
    }

    #[test]
    fn parser_quirks_are_read_like_a_parser() {
        // Backslashes act as slashes, slashes may be missing, tab and newline vanish.
        assert_eq!(
            hosts("https:\\\\evil.com\\@good.com"),
            ["evil.com", "good.com"]
        );
        assert_eq!(hosts("https:evil.com"), ["evil.com"]);
        assert_eq!(hosts("http:/\\/evil.com"), ["evil.com"]);
        // "good.com\n@evil.com": a parser drops the newline (evil.com); a reader stops there.
        assert_eq!(
            hosts("https://good.com\n@evil.com"),
            ["evil.com", "good.com"]
        );
        assert_eq!(
            hosts("https://good.com\"@evil.com"),
            ["evil.com", "good.com"]
        );
        assert_eq!(hosts("ws://e%76il.com/"), ["evil.com"]);
    }

    #[test]
    fn ipv4_in_every_spelling() {
        for spelling in [
            "169.254.169.254",
            "2852039166",
            "0xA9FEA9FE",
            "0251.0376.0251.0376",
            "169.254.43518",
            "0xa9.0xfe.0xa9.0xfe",
            "169.254.169.254.",
            "[::ffff:169.254.169.254]",
            "[::ffff:a9fe:a9fe]",
            "[0:0:0:0:0:ffff:a9fe:a9fe]",
            "１６９．２５４．１６９．２５４",
        ] {
            assert_eq!(
                hosts(&format!("http://{spelling}/latest/meta-data")),
                ["169.254.169.254"],
                "{spelling}"
            );
        }
        assert_eq!(parse_ipv4("256.1.1.1"), None);
        assert_eq!(parse_ipv4("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4("99999999999999999999999"), None);
        assert_eq!(parse_ipv4("example.com"), None);
        assert_eq!(parse_ipv4("1.2.3.0x"), Some(0x0102_0300));
    }

    #[test]
    fn ipv6_is_spelled_out() {
        assert_eq!(
            normalize_host("[FD00:EC2::254]").as_deref(),
            Some("fd00:ec2:0:0:0:0:0:254")
        );
        assert_eq!(
            normalize_host("fd00:0ec2:0:0::0254").as_deref(),
            Some("fd00:ec2:0:0:0:0:0:254")
        );
        assert_eq!(
            normalize_host("fe80::1%25eth0").as_deref(),
            Some("fe80:0:0:0:0:0:0:1")
        );
        assert_eq!(normalize_host("1::2::3").as_deref(), Some("1::2::3"));
    }

    #[test]
    fn unicode_domains_meet_their_punycode() {
        assert_eq!(
            normalize_host("bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(
            normalize_host("MÜNCHEN.de").as_deref(),
            Some("xn--mnchen-3ya.de")
        );
        assert_eq!(
            normalize_host("例え.テスト").as_deref(),
            Some("xn--r8jz45g.xn--zckzah")
        );
        assert_eq!(
            normalize_host("ｅｖｉｌ。ｃｏｍ").as_deref(),
            Some("evil.com")
        );
        assert_eq!(
            normalize_host("ev\u{200B}il.com").as_deref(),
            Some("evil.com")
        );
        assert_eq!(normalize_host("..."), None);
        assert_eq!(hosts_of_bare(" //user@evil.com:99/p "), ["evil.com"]);
    }
}
