"""The channel is read from the narration by ordered keyword rules (see `transform.channels`)."""

from __future__ import annotations

import pandas as pd
import pytest

from mono_dagster.transform.channels import CHANNELS, classify_channels
from mono_dagster_tests.transform.builders import canonicalise, v2_transaction


def channel_of(narration: str) -> str:
    return classify_channels(pd.Series([narration], dtype=object)).iloc[0]


@pytest.mark.parametrize(
    ("narration", "channel"),
    [
        ("NIP/TRF FROM ADEBAYO OLUWASEUN/GTB", "NIP"),
        ("NIBSS INSTANT PAYMENT OUTWARD 000013231004", "NIP"),
        ("POS PURCHASE @ SHOPRITE LEKKI", "POS"),
        ("ATM WDL 1023 ACCESS BANK IKEJA", "ATM"),
        ("CASH WITHDRAWAL FROM OTHER ATM", "ATM"),
        ("USSD TRANSFER TO 0123***789", "USSD"),
        ("*737*2*5000# TRANSFER", "USSD"),
        ("SMS ALERT CHARGES", "CHARGE"),
        ("SMS  ALERT FEE FOR DEC", "CHARGE"),
        ("STAMP DUTY", "CHARGE"),
        ("VAT ON TRANSFER", "CHARGE"),
        ("ELECTRONIC MONEY TRANSFER LEVY", "CHARGE"),
        ("WEB PYMT JUMIA NG", "WEB"),
        ("PAYSTACK/NETFLIX SUBSCRIPTION", "WEB"),
        ("FLUTTERWAVE BOLT RIDE", "WEB"),
        ("ONLINE BANKING TRANSFER", "WEB"),
        ("MTN AIRTIME VTU 08031234567", "AIRTIME"),
        ("GLO DATA BUNDLE", "AIRTIME"),
        ("TRF TO CHIOMA OKAFOR", "NIP"),
        ("TRF FROM IBRAHIM MUSA", "NIP"),
        ("MOBILE TRF/REF 883421", "TRANSFER"),
        ("TRANSFER BETWEEN CUSTOMERS", "TRANSFER"),
        ("SALARY FOR MARCH 2024", "OTHER"),
        ("", "OTHER"),
    ],
)
def test_realistic_narrations_get_their_channel(narration, channel):
    assert channel_of(narration) == channel


def test_keywords_are_matched_in_any_case():
    assert channel_of("pos purchase @ spar") == "POS"
    assert channel_of("Nip/Trf from Ngozi Eze") == "NIP"


@pytest.mark.parametrize(
    ("narration", "not_channel"),
    [
        ("CASH DEPOSIT AT BRANCH", "POS"),  # DEPOSIT holds POS but not as a word
        ("PAYMENT FOR COFFEE", "CHARGE"),  # COFFEE holds FEE
        ("PRIVATE SCHOOL", "CHARGE"),  # PRIVATE holds VAT
        ("DATABASE LICENCE", "AIRTIME"),  # DATABASE holds DATA
        ("TREATMENT AT CLINIC", "ATM"),  # TREATMENT holds ATM
    ],
)
def test_short_keywords_must_stand_as_words(narration, not_channel):
    assert channel_of(narration) != not_channel


@pytest.mark.parametrize(
    ("narration", "channel", "reason"),
    [
        ("NIP CHARGE + VAT", "NIP", "an explicit rail beats the charge keywords"),
        ("USSD TRF TO 0123***789", "USSD", "explicit rails beat the implicit TRF FROM/TO rule"),
        ("TRF TO ST MARY SCHOOL FEES", "NIP", "TRF TO is a transfer even when it pays fees"),
        ("POS WDL AT AGENT", "POS", "POS comes before ATM"),
        ("ONLINE TRANSFER", "WEB", "WEB comes before TRANSFER"),
        ("TRANSFER CHARGE", "CHARGE", "CHARGE comes before TRANSFER"),
    ],
)
def test_rules_are_applied_in_precedence_order(narration, channel, reason):
    assert channel_of(narration) == channel, reason


def test_narrations_longer_than_a_rule_window_still_classify_from_their_start():
    assert channel_of("POS PURCHASE " + "X" * 2000) == "POS"


def test_every_row_of_a_batch_gets_one_of_the_known_channels():
    narrations = ["NIP/TRF", None, "ATM WDL", "???", "POS"] * 3
    batch = canonicalise(*(v2_transaction(id=f"t{i}", narration=n) for i, n in enumerate(narrations)))
    assert set(batch.valid["channel"]) <= set(CHANNELS)
    assert batch.valid["channel"].tolist()[:5] == ["NIP", "OTHER", "ATM", "OTHER", "POS"]
