"""Within a batch identical copies of an (account, Mono id) pair are one transaction (the last copy is
kept, the others counted); copies with different content are all quarantined, never silently chosen."""

from __future__ import annotations

from mono_dagster.transform import build_raw_frame, to_canonical
from mono_dagster_tests.transform.builders import ACCOUNT_ID, OTHER_ACCOUNT_ID, accounts_frame, v2_transaction


def test_two_versions_of_one_id_are_both_quarantined_naming_the_id():
    raw = build_raw_frame(
        [
            (ACCOUNT_ID, 1, v2_transaction(id="t1", narration="first fetch")),
            (ACCOUNT_ID, 2, v2_transaction(id="t1", narration="second fetch")),
        ]
    )
    batch = to_canonical(raw, accounts_frame())
    assert batch.valid.empty
    assert batch.duplicates_dropped == 0
    assert batch.quarantined["reason"].tolist() == ["id: repeated with different content"] * 2
    assert batch.quarantined["raw_page_id"].tolist() == [1, 2]


def test_an_identical_copy_keeps_the_lineage_of_the_last_page():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id="t1")), (ACCOUNT_ID, 2, v2_transaction(id="t1"))])
    batch = to_canonical(raw, accounts_frame())
    assert batch.duplicates_dropped == 1
    assert batch.valid["raw_page_id"].tolist() == [2]


def test_every_superseded_copy_is_counted():
    raw = build_raw_frame([(ACCOUNT_ID, page, v2_transaction(id="t1")) for page in range(5)])
    batch = to_canonical(raw, accounts_frame())
    assert (len(batch.valid), batch.duplicates_dropped) == (1, 4)


def test_the_same_id_in_two_accounts_is_not_a_duplicate():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id="t1")), (OTHER_ACCOUNT_ID, 1, v2_transaction(id="t1"))])
    batch = to_canonical(raw, accounts_frame())
    assert batch.duplicates_dropped == 0
    assert len(batch.valid) == 2


def test_a_good_and_a_bad_version_of_one_id_are_both_quarantined():
    # Neither copy is Mono's newer word within one batch: storing the good one would be a guess.
    raw = build_raw_frame(
        [(ACCOUNT_ID, 1, v2_transaction(id="t1")), (ACCOUNT_ID, 2, v2_transaction(id="t1", amount=-1))]
    )
    batch = to_canonical(raw, accounts_frame())
    assert batch.valid.empty
    assert batch.quarantined["provider_transaction_id"].tolist() == ["t1", "t1"]
    assert batch.quarantined["reason"].tolist() == [
        "id: repeated with different content",
        "id: repeated with different content; amount: not a positive integer ('-1')",
    ]
    assert batch.duplicates_dropped == 0


def test_rows_without_an_id_are_never_collapsed():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id=None)) for _ in range(3)])
    batch = to_canonical(raw, accounts_frame())
    assert batch.duplicates_dropped == 0
    assert len(batch.quarantined) == 3


def test_an_id_sent_as_a_number_and_as_text_is_one_transaction():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id=123)), (ACCOUNT_ID, 2, v2_transaction(id="123"))])
    batch = to_canonical(raw, accounts_frame())
    assert batch.duplicates_dropped == 1
    assert batch.valid["provider_transaction_id"].tolist() == ["123"]


def test_ids_that_differ_only_after_a_nul_character_are_different_transactions():
    # pandas' string hash table stops at NUL; the transform must not merge these two. (An id holding
    # NUL cannot be stored in Postgres, so that row is quarantined; "a" is still its own transaction.)
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id="a\x00b")), (ACCOUNT_ID, 1, v2_transaction(id="a"))])
    batch = to_canonical(raw, accounts_frame())
    assert batch.duplicates_dropped == 0
    assert batch.valid["provider_transaction_id"].tolist() == ["a"]
    assert batch.quarantined["reason"].tolist() == ["id: holds a NUL character"]
    assert batch.quarantined["provider_transaction_id"].tolist() == ["a\ufffdb"]
