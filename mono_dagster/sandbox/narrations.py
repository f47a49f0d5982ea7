"""The Nigerian banking vocabulary the sandbox draws from: banks, names, and kinds of transaction.

Each `Kind` knows its direction, Mono category, a realistic amount in kobo and a narration in the forms
Nigerian banks print ("NIP/TRF FROM ...", "POS PURCHASE @ ...", "ATM WDL ..."), so the channel parser
downstream has real material. Narrations never hold a full 10-digit account number (only masked ones);
phone numbers appear, as they do on airtime lines.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Bank:
    name: str
    code: str
    short: str  # how narrations abbreviate it


BANKS: tuple[Bank, ...] = (
    Bank("GTBank", "058", "GTB"),
    Bank("Access Bank", "044", "ACCESS"),
    Bank("Zenith Bank", "057", "ZENITH"),
    Bank("ALAT by WEMA", "035", "WEMA"),
    Bank("Kuda", "50211", "KUDA"),
    Bank("First Bank", "011", "FBN"),
    Bank("UBA", "033", "UBA"),
)

FIRST_NAMES = (
    "ADEBAYO", "CHINEDU", "NGOZI", "OLUWASEUN", "FUNMILAYO", "EMEKA", "AISHA", "IBRAHIM", "TEMITOPE",
    "CHIAMAKA", "YUSUF", "BLESSING", "OLUMIDE", "ZAINAB", "KELECHI", "FOLAKE", "SAMUEL", "OLAMIDE",
    "HAUWA", "UCHENNA",
)  # fmt: skip
SURNAMES = (
    "ADEYEMI", "OKAFOR", "BELLO", "OKONKWO", "ABUBAKAR", "OLADIPO", "EZE", "MUSA", "ADELEKE", "NWOSU",
    "OGUNLEYE", "OBI", "AKINOLA", "DANJUMA", "OYELARAN", "IGWE",
)  # fmt: skip
AREAS = ("LEKKI", "IKEJA", "VI", "YABA", "SURULERE", "WUSE II", "GARKI", "AJAH", "IKOYI", "GRA PH", "BODIJA")
EMPLOYERS = ("INTERSWITCH LTD", "DANGOTE CEMENT PLC", "ANDELA NIG LTD", "MTN NIGERIA", "LAGOS STATE GOVT")
POS_MERCHANTS: tuple[tuple[str, str], ...] = (
    ("SHOPRITE", "food"), ("CHICKEN REPUBLIC", "food"), ("KILIMANJARO", "food"), ("SPAR", "food"),
    ("DOMINOS PIZZA", "food"), ("JUSTRITE", "food"), ("TOTAL ENERGIES", "unknown"),
    ("MEDPLUS PHARMACY", "unknown"), ("FILMHOUSE CINEMAS", "unknown"), ("ORIGIN FUEL STATION", "unknown"),
)  # fmt: skip
WEB_MERCHANTS: tuple[tuple[str, str], ...] = (
    ("JUMIA NG", "online_transactions"), ("KONGA", "online_transactions"),
    ("NETFLIX.COM", "online_transactions"), ("SPOTIFY", "online_transactions"),
    ("BOLT.EU", "online_transactions"), ("DSTV", "bills"),
    ("IKEDC PREPAID", "bills"), ("PAYSTACK *GLOVO", "food"),
)  # fmt: skip
NETWORKS: tuple[tuple[str, str], ...] = (
    ("MTN", "0803"),
    ("GLO", "0805"),
    ("AIRTEL", "0802"),
    ("9MOBILE", "0809"),
)


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def masked_account(rng: random.Random) -> str:
    return f"{rng.randrange(10_000):04d}***{rng.randrange(1000):03d}"


@dataclass(frozen=True)
class Kind:
    type: str  # "debit" | "credit"
    weight: int
    draw: Callable[[random.Random], tuple[str, int, str]]  # -> (narration, amount in kobo, category)


def _naira(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high) * 100


def _nip_in(rng: random.Random) -> tuple[str, int, str]:
    return f"NIP/TRF FROM {person(rng)}/{rng.choice(BANKS).short}", _naira(rng, 2_000, 350_000), "transfer"


def _salary(rng: random.Random) -> tuple[str, int, str]:
    return f"TRF FROM {rng.choice(EMPLOYERS)} SALARY", _naira(rng, 150_000, 900_000), "transfer"


def _ussd_in(rng: random.Random) -> tuple[str, int, str]:
    return f"USSD TRANSFER FROM {masked_account(rng)}", _naira(rng, 1_000, 80_000), "transfer"


def _pos_reversal(rng: random.Random) -> tuple[str, int, str]:
    merchant, _ = rng.choice(POS_MERCHANTS)
    return f"REVERSAL POS PURCHASE @ {merchant}", _naira(rng, 800, 40_000), "unknown"


def _pos(rng: random.Random) -> tuple[str, int, str]:
    merchant, category = rng.choice(POS_MERCHANTS)
    return f"POS PURCHASE @ {merchant} {rng.choice(AREAS)}", _naira(rng, 800, 85_000), category


def _atm(rng: random.Random) -> tuple[str, int, str]:
    bank = rng.choice(BANKS)
    # ATMs pay out in multiples of N1,000.
    narration = f"ATM WDL {rng.randrange(10_000):04d} {bank.name.upper()} {rng.choice(AREAS)}"
    return narration, rng.randint(2, 40) * 100_000, "cash_withdrawal"


def _ussd_out(rng: random.Random) -> tuple[str, int, str]:
    return f"USSD TRANSFER TO {masked_account(rng)}", _naira(rng, 1_000, 100_000), "transfer"


def _nip_out(rng: random.Random) -> tuple[str, int, str]:
    return f"NIP/TRF TO {person(rng)}/{rng.choice(BANKS).short}", _naira(rng, 1_000, 250_000), "transfer"


def _sms_alert(rng: random.Random) -> tuple[str, int, str]:
    return "SMS ALERT CHARGES", 400, "bank_charges"


def _stamp_duty(rng: random.Random) -> tuple[str, int, str]:
    return "STAMP DUTY CHARGE", 5_000, "bank_charges"


def _transfer_fee(rng: random.Random) -> tuple[str, int, str]:
    return "NIP TRANSFER FEE + VAT", rng.choice((1_075, 2_688, 5_375)), "bank_charges"


def _web(rng: random.Random) -> tuple[str, int, str]:
    merchant, category = rng.choice(WEB_MERCHANTS)
    return f"WEB PYMT {merchant}", _naira(rng, 1_200, 60_000), category


def _airtime(rng: random.Random) -> tuple[str, int, str]:
    network, prefix = rng.choice(NETWORKS)
    amount = rng.choice((100, 200, 500, 1_000, 2_000, 5_000)) * 100
    return f"{network} AIRTIME VTU {prefix}{rng.randrange(10_000_000):07d}", amount, "bills"


CREDIT_KINDS: tuple[Kind, ...] = (
    Kind("credit", 6, _nip_in),
    Kind("credit", 1, _salary),
    Kind("credit", 2, _ussd_in),
    Kind("credit", 1, _pos_reversal),
)
DEBIT_KINDS: tuple[Kind, ...] = (
    Kind("debit", 8, _pos),
    Kind("debit", 3, _atm),
    Kind("debit", 3, _ussd_out),
    Kind("debit", 4, _nip_out),
    Kind("debit", 3, _sms_alert),
    Kind("debit", 1, _stamp_duty),
    Kind("debit", 2, _transfer_fee),
    Kind("debit", 4, _web),
    Kind("debit", 3, _airtime),
)


def weighted(kinds: tuple[Kind, ...]) -> tuple[Kind, ...]:
    """Each kind repeated by its weight, so one `rng.choice` draws by weight (cheaper than `choices`)."""
    return tuple(kind for kind in kinds for _ in range(kind.weight))
