//! The scanner on every format it knows, the look-alikes it must leave alone, and hostile
//! input. Matches are checked with their exact text, so the spans are checked too.

use super::*;

/// Every match as (kind, the exact text of its span).
fn found(text: &str) -> Vec<(Kind, &str)> {
    scan(text, KindSet::ALL)
        .into_iter()
        .map(|e| (e.kind, &text[e.start..e.end]))
        .collect()
}

/// `text` holds exactly one match, of `kind`, spanning `value`.
#[track_caller]
fn one(kind: Kind, text: &str, value: &str) {
    assert_eq!(found(text), [(kind, value)], "{text}");
}

/// Each value, alone and inside a sentence, is one match of `kind` spanning exactly the value.
#[track_caller]
fn each(kind: Kind, values: &[&str]) {
    for value in values {
        one(kind, value, value);
        let sentence = format!("Here it is: {value}, thanks!");
        one(kind, &sentence, value);
    }
}

#[track_caller]
fn none(texts: &[&str]) {
    for text in texts {
        assert_eq!(found(text), [], "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

#[test]
fn international_phone_numbers() {
    each(
        Kind::Phone,
        &[
            "+44 20 7946 0958",
            "+14155552671",
            "+1 (415) 555-2671",
            "+1-780-563-6083",
            "+44 (0)20 7946 0958",
            "+44(0)115 4960914",
            "+49 (0) 9141 777631",
            "+33 1 83 41 77 76",
            "+81 90-1234-5678",
            "+7 (914) 177-76-31",
            "+61.437.406.812",
            "+55 11 96123-4567",
            "+86 131 2345 6789",
            "+376 312 345",
            "+247 62889",
            "+90(066)907-4391",
            "00 44 20 7946 0958",
            "0044 20 7946 0958",
            "011 44 20 7946 0958",
            "001-780-563-6083",
        ],
    );
}

#[test]
fn national_phone_numbers() {
    each(
        Kind::Phone,
        &[
            "(555) 123-4567",
            "(555)123-4567",
            "(555) 010-4477",
            "555-123-4567",
            "555.123.4567",
            "1 555 123 4567",
            "1 (786) 834-4978",
            "020 7946 0958",
            "07700 900123",
            "(0161) 4960066",
            "01 23 45 67 89",
            "030 123456",
            "030/1234567",
            "080-9141-7776",
            "02-0080-6360",
            "08-170 669 07",
            "(0406)-812415",
            "8 (066) 907-43-91",
            "8 812 415 86 83",
            "12 3915-0008",
            "(11) 96123-4567",
            "32 12 34 56",
            "609-141-777",
            "0612345678",
            "13912345678",
            "07613 94858 717",
            "(07237) 34405 636",
        ],
    );
}

#[test]
fn extensions_belong_to_the_phone_number() {
    one(
        Kind::Phone,
        "call (555) 010-4477 x123 today",
        "(555) 010-4477 x123",
    );
    one(Kind::Phone, "206.269.0743x9150", "206.269.0743x9150");
    one(
        Kind::Phone,
        "(201) 555-0123 ext. 123.",
        "(201) 555-0123 ext. 123",
    );
    one(
        Kind::Phone,
        "+1 201-555-0123 extension 7",
        "+1 201-555-0123 extension 7",
    );
    one(
        Kind::Phone,
        "tel:+44-121-234-5678;ext=7456",
        "+44-121-234-5678;ext=7456",
    );
    one(Kind::Phone, "Tel. 0121 234 5678", "0121 234 5678");
}

#[test]
fn ambiguous_numbers_are_phones_when_called_so() {
    for (text, value) in [
        ("call me on 609 141 777", "609 141 777"),
        ("my mobile: 3420837783", "3420837783"),
        ("Telefon 4814 7982", "4814 7982"),
        ("WhatsApp 952.157.631", "952.157.631"),
        ("Phone number: 93734405", "93734405"),
    ] {
        one(Kind::Phone, text, value);
    }
    none(&[
        "609 141 777",
        "3420837783",
        "4814 7982",
        "order 4155552671",
        "call about order #4155552671",
        "call me at 10:30",
        "Our routing number is 055539678.",
    ]);
}

#[test]
fn look_alikes_are_not_phones() {
    none(&[
        "12345",
        "I have 42 apples and 7 pears",
        "555-1234",
        "2024-01-15",
        "15.01.2024",
        "01/15/2024",
        "03/20/1993 and 1994-09-17",
        "version 1.2.3",
        "Windows build 10.0.19041.1415",
        "pi is 3.14159265358979",
        "+0 123 456 789",
        "+12 34",
        "sha 5551234567abc",
        "1,000,000",
        "We sold 12,345 units and 1 234 567 impressions.",
        "It costs $1 234 567 or €555 123 4567",
        "ISBN 0-411-57815-4",
        "ISBN 978-0-7315-1072-6",
        "ISSN 2307-0511",
        "Barcode 8967852544965",
        "My phone's IMEI is 358815057214297",
        "The venue is at -30.9653585, 174.394055.",
        "ZIP 02138-1234",
        "Flight LH2619 from gate B27",
        "Invoice INV-2024-08119, ORD-4155552671, ticket 12345678-90",
        "Request 8de8c6a1-6523-4088-aa8d-7c4f6176017b failed",
        "2021-12-18T14:41:55.018742",
        "1 2 3 4 5 6 7 8 9 10",
        "Compute 12345 * 67890",
    ]);
}

// ---------------------------------------------------------------------------------------------
// Payment cards

#[test]
fn cards_in_every_common_grouping() {
    each(
        Kind::CreditCard,
        &[
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111.1111.1111.1111",
            "4111111111111111",
            "5500 0000 0000 0004",
            "2223 0000 4841 0010",
            "3782 822463 10005",
            "378282246310005",
            "3056 930902 5904",
            "30569309025904",
            "6011 0009 9013 9424",
            "3530 1113 3330 0000",
            "6200 0000 0000 0005",
            "4111 1111 1111 1111 003",
            "5038 6708 1005",
        ],
    );
    one(
        Kind::CreditCard,
        "card (4111111111111111)",
        "4111111111111111",
    );
}

#[test]
fn cards_need_luhn_an_issuer_and_a_consistent_grouping() {
    none(&[
        "4111 1111 1111 1112",
        "4111111111111112",
        "9111 1111 1111 1111",
        "4111-1111 1111.1111",
        "4111 1111 1111",
        "4111 1111 1111 1111 1111",
        "7992739871300",
    ]);
}

#[test]
fn ambiguous_card_lengths_need_a_cue() {
    // Twelve digits in a run, and 13-digit numbers that are also valid EAN-13 barcodes.
    one(Kind::CreditCard, "maestro 503820726258", "503820726258");
    none(&["id 503820726258", "barcode 4006381333023"]);
    one(Kind::CreditCard, "card 4006381333023", "4006381333023");
}

// ---------------------------------------------------------------------------------------------
// SSNs, IBANs, emails, IP addresses

#[test]
fn ssns_follow_the_issuing_rules() {
    each(Kind::UsSsn, &["123-45-6789", "078-05-1120"]);
    one(Kind::UsSsn, "SSN 123 45 6789", "123 45 6789");
    one(Kind::UsSsn, "social security number 123456789", "123456789");
    none(&[
        "000-45-6789",
        "666-45-6789",
        "912-45-6789",
        "123-00-6789",
        "123-45-0000",
        "123 45 6789",
        "123456789",
    ]);
}

#[test]
fn ibans_need_the_country_length_and_checksum() {
    each(
        Kind::Iban,
        &[
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "DE89 3704 0044 0532 0130 00",
            "FR14 2004 1010 0505 0001 3M02 606",
            "gb82 west 1234 5698 7654 32",
            "NO93 8601 1117 947",
            "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        ],
    );
    none(&[
        "GB82 WEST 1234 5698 7654 33",
        "GB82WEST12345698765433",
        "GB82WEST123456987654",
        "ZZ82WEST12345698765432",
    ]);
    one(
        Kind::Iban,
        "DE89 3704 0044 0532 0130 00 THEN",
        "DE89 3704 0044 0532 0130 00",
    );
}

#[test]
fn iban_digits_are_not_read_again() {
    one(
        Kind::Iban,
        "GB82 WEST 1234 5698 7654 32",
        "GB82 WEST 1234 5698 7654 32",
    );
}

#[test]
fn emails() {
    each(
        Kind::Email,
        &[
            "ann.lee+news@mail.example.co.uk",
            "c_d@e-f.org",
            "o'brien@example.ie",
        ],
    );
    one(Kind::Email, "write to ann@example.com.", "ann@example.com");
    one(Kind::Email, "mailto:ann@example.com", "ann@example.com");
    one(
        Kind::Email,
        r#"{"note":"hi\nann@example.com"}"#,
        "ann@example.com",
    );
    none(&[
        "@handle",
        "user@localhost",
        "x@y.c",
        "a@-b.com",
        "email me @ noon",
        "a@b..com",
        "ann@exämple.com",
    ]);
}

#[test]
fn ip_addresses() {
    each(
        Kind::IpAddress,
        &[
            "192.168.1.20",
            "8.8.8.8",
            "0.0.0.0",
            "2001:db8:85a3::8a2e:370:7334",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "fe80::1",
            "::1",
            "::ffff:192.0.2.1",
            "2001:db8::",
        ],
    );
    one(
        Kind::IpAddress,
        "curl http://[2001:db8::1]:8080/",
        "2001:db8::1",
    );
    one(Kind::IpAddress, "from 10.0.0.5:443", "10.0.0.5");
    one(Kind::IpAddress, "ping fe80::1%eth0", "fe80::1");
    none(&[
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.02.03.04",
        "version 1.2.3.4",
        "Section 3.2.1.4 of the spec",
        "MAC 00:16:3e:78:c2:6b",
        "12:30:45",
        "std::vector<int>",
        "dead::beef",
        "a:b:c:d:e:f:1:2:3",
    ]);
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn vendor_api_keys() {
    each(
        Kind::ApiKey,
        &[
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAY34FZKBOKMUTVV7A",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW",
            "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "xoxp-707049996228-03883685957-890682883607-xKJm8GAF0wAwaIINYNvD",
            "sk-abcdefghij1234567890T3BlbkFJabcdefghij1234567890",
            "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq",
            "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq-AA",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "rk_test_51H0abcDEF123ghiJKL456mno",
            "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
            "glpat-xYz12AbC34dEf56GhI78j",
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678",
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        ],
    );
    none(&[
        "AKIA is a prefix",
        "sk-learn is not scikit-learn",
        "pk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "AIzaShort",
        "the task-force met at ghp_ headquarters",
    ]);
}

#[test]
fn jwts() {
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    each(Kind::Jwt, &[token]);
    one(Kind::Jwt, &format!("Authorization: Bearer {token}"), token);
    let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.";
    one(Kind::Jwt, &format!("token {unsigned} here"), unsigned);
    none(&["The payload was eyJhbGciOiJIUzI1NiJ9 but nothing else."]);
}

#[test]
fn private_key_blocks() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----";
    each(Kind::PrivateKey, &[key]);
    let escaped = key.replace('\n', "\\n");
    one(
        Kind::PrivateKey,
        &format!(r#"{{"private_key": "{escaped}", "type": "service_account"}}"#),
        &escaped,
    );
    for label in [
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ] {
        let block = format!("-----BEGIN {label}-----\nAbCd1234+/==\n-----END {label}-----");
        each(Kind::PrivateKey, &[block.as_str()]);
    }
    // Pasted without its END line: the base64 body is covered.
    one(
        Kind::PrivateKey,
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\nthanks",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    );
    none(&[
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    ]);
}

#[test]
fn assigned_secrets_cover_the_value_only() {
    for (text, value) in [
        (r#"password = "hunter2Xy9!kk""#, "hunter2Xy9!kk"),
        ("DB_PASSWORD=Sx9#kd82Ld0q", "Sx9#kd82Ld0q"),
        (
            "api_key: 4f9d8c7b6a5e4d3c2b1a0f9e8d7c6b5a",
            "4f9d8c7b6a5e4d3c2b1a0f9e8d7c6b5a",
        ),
        (
            r#"{"client_secret": "Zx8_Yw7-Vu6.Ts5~Rq4"}"#,
            "Zx8_Yw7-Vu6.Ts5~Rq4",
        ),
        (
            "settings.SECRET_KEY = 'k3Jd9sL2mQ8xZ1pV'",
            "k3Jd9sL2mQ8xZ1pV",
        ),
        ("token := \"a1B2c3D4e5F6g7H8\"", "a1B2c3D4e5F6g7H8"),
        (
            "my config has token=&h9O_WQZUUDQWu@Y6+ha, is that safe?",
            "&h9O_WQZUUDQWu@Y6+ha",
        ),
        ("set SECRET_KEY=(9jf^Kz)tX6MS1qh.", "(9jf^Kz)tX6MS1qh"),
        (
            "https://x.io/cb?access_token=Ab12Cd34Ef56Gh78&state=ok",
            "Ab12Cd34Ef56Gh78",
        ),
        (
            "curl -H 'Authorization: Bearer Ab12Cd34Ef56Gh78Ij90' x",
            "Ab12Cd34Ef56Gh78Ij90",
        ),
        (
            "postgres://app:s3cr3tPa55@db.internal:5432/app",
            "s3cr3tPa55",
        ),
        ("redis://:Zq81kLmx@cache:6379", "Zq81kLmx"),
    ] {
        one(Kind::Secret, text, value);
    }
    none(&[
        "max_tokens=4096",
        "token_count: 153",
        "api_key=YOUR_API_KEY",
        "password: ********",
        "token=<TOKEN>",
        "secret_key = os.environ['SECRET_KEY']",
        "tokenizer = 'bert-base-uncased'",
        "password = 'correct horse battery staple'",
        "public_key = 'AAAAC3NzaC1lZDI1NTE5AAAAIO'",
        "key=value",
        "https://user:pass@example.com/",
        "http://example.com:8080/a@b",
    ]);
}

#[test]
fn a_vendor_key_in_an_assignment_is_one_api_key() {
    one(
        Kind::ApiKey,
        "OPENAI_API_KEY=sk-abcdefghij1234567890T3BlbkFJabcdefghij1234567890",
        "sk-abcdefghij1234567890T3BlbkFJabcdefghij1234567890",
    );
}

// ---------------------------------------------------------------------------------------------
// Together, selection, hostile input

#[test]
fn mixed_text_finds_every_match_once_in_order() {
    let text = "Ann (ann@example.com, 555-123-4567) paid with 4111111111111111; \
                Bob's SSN is 219-09-9999, IBAN GB82WEST12345698765432, IP 10.1.2.3.";
    assert_eq!(
        found(text),
        [
            (Kind::Email, "ann@example.com"),
            (Kind::Phone, "555-123-4567"),
            (Kind::CreditCard, "4111111111111111"),
            (Kind::UsSsn, "219-09-9999"),
            (Kind::Iban, "GB82WEST12345698765432"),
            (Kind::IpAddress, "10.1.2.3"),
        ]
    );
}

#[test]
fn kinds_not_asked_for_are_still_masked() {
    let phones = KindSet::NONE.with(Kind::Phone);
    // The IBAN's digits hold no phone number even when only phones are reported.
    assert_eq!(scan("GB82 WEST 1234 5698 7654 32", phones), []);
    let cards = KindSet::NONE.with(Kind::CreditCard);
    let text = "ann@example.com 4111 1111 1111 1111";
    assert_eq!(
        scan(text, cards),
        [Entity {
            kind: Kind::CreditCard,
            start: 16,
            end: 35
        }]
    );
}

#[test]
fn offsets_are_utf8_byte_offsets() {
    let text =
        "Grüße — ruf an: +49 30 123456 ✓ oder schreib an jörg@example.de 🙂 müller@example.de";
    let entities = scan(text, KindSet::ALL);
    let matched: Vec<&str> = entities.iter().map(|e| &text[e.start..e.end]).collect();
    assert_eq!(
        matched,
        ["+49 30 123456", "jörg@example.de", "müller@example.de"]
    );
    for entity in &entities {
        assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
    }
}

#[test]
fn non_ascii_digits_and_text_are_safe() {
    none(&["", "é", "٠١٢٣٤٥٦٧٨٩ ٠١٢٣٤٥٦٧٨٩", "📞 ☎ ✓ café"]);
    one(Kind::Phone, "é555-123-4567é", "555-123-4567");
}

// ---------------------------------------------------------------------------------------------
// Unicode spaces, dashes and fullwidth forms: folded for reading, spans in the original bytes

#[test]
fn unicode_spaces_separate_groups() {
    each(
        Kind::CreditCard,
        &[
            "4111\u{a0}1111\u{a0}1111\u{a0}1111",
            "4111\u{202f}1111\u{202f}1111\u{202f}1111",
            "4111\u{2009}1111\u{2009}1111\u{2009}1111",
            "4111\u{3000}1111\u{3000}1111\u{3000}1111",
            "4111  1111  1111  1111",
            "4111 \u{a0}1111\t1111 1111",
        ],
    );
    each(
        Kind::Phone,
        &["+44\u{a0}20\u{a0}7946\u{a0}0958", "+44  20  7946  0958"],
    );
    one(
        Kind::UsSsn,
        "SSN:\u{a0}123\u{a0}45\u{a0}6789",
        "123\u{a0}45\u{a0}6789",
    );
}

#[test]
fn unicode_dashes_and_underscores_separate_groups() {
    each(
        Kind::CreditCard,
        &[
            "4111\u{2013}1111\u{2013}1111\u{2013}1111",
            "4111\u{2014}1111\u{2014}1111\u{2014}1111",
            "4111\u{2010}1111\u{2010}1111\u{2010}1111",
            "4111_1111_1111_1111",
        ],
    );
    each(
        Kind::UsSsn,
        &["123\u{2013}45\u{2013}6789", "123\u{2011}45\u{2011}6789"],
    );
    each(
        Kind::Phone,
        &[
            "555\u{2013}123\u{2013}4567",
            "+1\u{2212}555\u{2212}123\u{2212}4567",
        ],
    );
    // A separator of another kind still breaks a card's grouping.
    none(&["4111\u{2013}1111 1111-1111", "2024\u{2013}01\u{2013}15"]);
}

#[test]
fn a_card_may_wrap_over_a_line() {
    one(
        Kind::CreditCard,
        "card: 4111 1111\n1111 1111 please",
        "4111 1111\n1111 1111",
    );
    one(Kind::CreditCard, "4111111111111111\r\n", "4111111111111111");
    one(
        Kind::CreditCard,
        "Card 4111-1111-1111-1111\n2 items",
        "4111-1111-1111-1111",
    );
    // Other numbers stay on their line: the phone number and the count are two things.
    one(Kind::Phone, "Phone: 555-123-4567\n2 items", "555-123-4567");
    none(&["Total 4111\n1111"]);
}

#[test]
fn fullwidth_digits_are_digits() {
    each(
        Kind::CreditCard,
        &[
            "４１１１ １１１１ １１１１ １１１１",
            "４１１１１１１１１１１１１１１１",
        ],
    );
    each(
        Kind::Phone,
        &[
            "＋４４ ２０ ７９４６ ０９５８",
            "（５５５） １２３－４５６７",
        ],
    );
    // Fullwidth digits pass no other checks than ASCII ones.
    none(&[
        "４１１１ １１１１ １１１１ １１１２",
        "２０２４－０１－１５",
    ]);
}

#[test]
fn card_numbers_glued_to_their_label() {
    one(Kind::CreditCard, "card4111111111111111", "4111111111111111");
    one(
        Kind::CreditCard,
        "my visa4111111111111111 ok",
        "4111111111111111",
    );
    // Glued to anything else, or not a card, the digits stay part of a token.
    none(&[
        "abc4111111111111111",
        "x1card4111111111111111",
        "card4111111111111112",
        "card5551234567",
        "order4111111111111111",
    ]);
}

#[test]
fn fullwidth_at_signs_make_emails() {
    each(
        Kind::Email,
        &["ann＠example.com", "jörg.m＠mail.example.de"],
    );
    none(&["＠example.com", "ann＠localhost"]);
}

#[test]
fn folded_spans_are_original_byte_offsets() {
    let text = "Grüße\u{a0}— Karte:\u{a0}４１１１\u{2013}1111\u{2013}1111\u{2013}1111 ✓ Tel.\u{202f}+49\u{a0}30\u{a0}123456";
    let entities = scan(text, KindSet::ALL);
    let matched: Vec<&str> = entities.iter().map(|e| &text[e.start..e.end]).collect();
    assert_eq!(
        matched,
        [
            "４１１１\u{2013}1111\u{2013}1111\u{2013}1111",
            "+49\u{a0}30\u{a0}123456"
        ]
    );
}

#[test]
fn hostile_inputs_finish_quickly_and_safely() {
    let cases = [
        "9".repeat(100_000),
        "1-".repeat(50_000),
        "1.".repeat(50_000),
        "+1 ".repeat(30_000),
        "(1)".repeat(30_000),
        "@".repeat(100_000),
        "a@".repeat(50_000),
        "a.".repeat(50_000) + "@x.com",
        "-----BEGIN PRIVATE KEY-----".repeat(4_000),
        "-----BEGIN ".repeat(10_000),
        "eyJ".repeat(30_000),
        "eyJabcdefghijkl.".repeat(6_000),
        ":".repeat(100_000),
        "1:".repeat(50_000),
        "ab12::".repeat(20_000),
        "password=".repeat(10_000),
        "token: ".repeat(15_000),
        "GB82 ".repeat(20_000),
        "x://".repeat(25_000),
        "AKIA".repeat(25_000),
        "\\n".repeat(50_000),
        "é".repeat(50_000),
        "\u{a0}".repeat(50_000),
        "1\u{a0}".repeat(30_000),
        "１\u{2013}".repeat(20_000),
        "1\n".repeat(50_000),
        "card1".repeat(20_000),
        "a＠".repeat(30_000),
        "\u{ff10}".repeat(30_000) + "\u{ef}",
    ];
    for text in &cases {
        let started = std::time::Instant::now();
        let entities = scan(text, KindSet::ALL);
        for entity in &entities {
            assert!(entity.start < entity.end && entity.end <= text.len());
            assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
        }
        // Linear passes: a debug build still scans 100 KB well within a second.
        assert!(
            started.elapsed().as_secs_f64() < 2.0,
            "{}… took {:?}",
            &text[..16.min(text.len())],
            started.elapsed()
        );
    }
}

#[test]
fn checksums() {
    assert!(number::luhn_ok(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
    assert!(!number::luhn_ok(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    assert!(iban::checksum_ok(b"GB82WEST12345698765432"));
    assert!(!iban::checksum_ok(b"GB82WEST12345698765423"));
    assert!(!iban::checksum_ok(b"GB8"));
}

#[test]
fn kind_names_round_trip() {
    for kind in Kind::ALL {
        assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
    }
    assert_eq!(Kind::from_name("ssn"), None);
    let names: Vec<&str> = Kind::ALL.map(Kind::as_str).to_vec();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "ALL is in name order");
}
