"""The Pandera contract of a canonical batch, and one call that validates a whole batch.

`CanonicalTransactionSchema` states what storage may rely on (column set, order, dtypes, keys, signs,
formats); `validate_canonical` runs it once per batch with ``lazy=True`` and returns a report that is safe
to show (values are PII-masked) and to render without optional packages. Validate a batch, never a page:
Pandera's cost is mostly per call (~3 ms), not per row.

Text, date and Decimal columns are ``object`` dtype in pandas; their element types are checked by
`checks.TEXT`, `checks.DATE` and `checks.DECIMAL` (vectorised, unlike Pandera's per-value ``str``/``Date``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mono_dagster.records import CANONICAL_COLUMNS, PROVIDER
from mono_dagster.transform import checks
from mono_dagster.transform.channels import CHANNELS
from mono_dagster.transform.masking import mask_digit_runs
from mono_dagster.transform.money import MINOR_UNIT_EXPONENTS
from mono_dagster.transform.rules import DIRECTIONS

FAILURE_SAMPLE_SIZE = 20
FAILURE_SAMPLE_COLUMNS: tuple[str, ...] = ("schema_context", "column", "check", "failure_case", "index")
_CASE_CHARS = 80

UUID5_TEMPLATE = "hhhhhhhh-hhhh-5hhh-vhhh-hhhhhhhhhhhh"
SHA256_TEMPLATE = "h" * 64
# \Z, not $: `$` also matches before a trailing newline.
MASKED_ACCOUNT_PATTERN = r"^\*{6}[0-9]{0,4}\Z"
CURRENCY_PATTERN = r"^[A-Z]{3}\Z"
CATEGORY_PATTERN = r"^[a-z0-9]+(?:_[a-z0-9]+)*\Z"


def _text(*column_checks: pa.Check, nullable: bool = False, unique: bool = False) -> pa.Column:
    return pa.Column(object, checks=[checks.TEXT, *column_checks], nullable=nullable, unique=unique)


CanonicalTransactionSchema = pa.DataFrameSchema(
    columns={
        "transaction_id": _text(checks.shaped(UUID5_TEMPLATE, "uuid5_shape"), unique=True),
        "provider": _text(pa.Check.isin([PROVIDER])),
        "account_id": _text(pa.Check.str_length(min_value=1)),
        "provider_transaction_id": _text(pa.Check.str_length(min_value=1)),
        "account_number_masked": _text(checks.matches(MASKED_ACCOUNT_PATTERN)),
        "institution": _text(nullable=True),
        "posted_at": pa.Column(pd.DatetimeTZDtype(unit="ns", tz="UTC")),
        "posted_date": pa.Column(object, checks.DATE),
        "posted_date_lagos": pa.Column(object, checks.DATE),
        "direction": _text(pa.Check.isin(DIRECTIONS)),
        "amount_minor": pa.Column("int64", pa.Check.gt(0)),
        "amount": pa.Column(object, checks.DECIMAL),
        "signed_amount_minor": pa.Column("int64", pa.Check.ne(0)),
        "signed_amount": pa.Column(object, checks.DECIMAL),
        "currency": _text(checks.matches(CURRENCY_PATTERN), pa.Check.isin(sorted(MINOR_UNIT_EXPONENTS))),
        "balance_after_minor": pa.Column("Int64", nullable=True),
        "narration": _text(pa.Check(checks.no_long_digit_runs, name="no_unmasked_account_numbers")),
        "category": _text(checks.matches(CATEGORY_PATTERN)),
        "provider_category": _text(
            pa.Check(checks.no_long_digit_runs, name="no_unmasked_account_numbers"), nullable=True
        ),
        "channel": _text(pa.Check.isin(CHANNELS)),
        "content_hash": _text(checks.shaped(SHA256_TEMPLATE, "sha256_hex")),
        "raw_page_id": pa.Column("int64"),
    },
    # ignore_na=False: the checks handle nulls themselves, and Pandera's null mask costs a frame scan.
    checks=[pa.Check(check, name=name, ignore_na=False) for name, (check, _) in checks.FRAME_CHECKS.items()],
    unique=["account_id", "provider_transaction_id"],
    strict=True,
    ordered=True,
    name="canonical_transactions",
)
assert tuple(CanonicalTransactionSchema.columns) == CANONICAL_COLUMNS  # the contract lives in records.py


@dataclass(frozen=True)
class SchemaReport:
    """The outcome of validating one batch; ``failure_sample`` holds at most 20 masked failure cases."""

    passed: bool
    num_failures: int
    failure_sample: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_SAMPLE_COLUMNS)))

    def to_markdown(self) -> str:
        """A Markdown table of the sample (hand-rolled: pandas' own needs the optional ``tabulate``)."""
        if self.passed:
            return "Canonical schema: passed."
        header = "| " + " | ".join(FAILURE_SAMPLE_COLUMNS) + " |"
        rule = "|" + "---|" * len(FAILURE_SAMPLE_COLUMNS)
        body = [
            "| " + " | ".join(_cell(row[column]) for column in FAILURE_SAMPLE_COLUMNS) + " |"
            for row in self.failure_sample.to_dict("records")
        ]
        shown = f"Canonical schema: failed, {self.num_failures} failure case(s); showing {len(body)}."
        return "\n".join([shown, "", header, rule, *body])


def validate_canonical(frame: pd.DataFrame) -> SchemaReport:
    """Validate a whole canonical batch once (``lazy=True``: every failure, not the first)."""
    try:
        with warnings.catch_warnings():
            # Pandera's own internals trip pandas deprecation warnings that say nothing about our data.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandera\.")
            # inplace: the schema coerces nothing, so this only skips Pandera's defensive copy of the batch.
            CanonicalTransactionSchema.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        guarded = cases["check"].map({name: column for name, (_, column) in checks.FRAME_CHECKS.items()})
        cases = cases[guarded.isna() | cases["column"].eq(guarded)]
        return SchemaReport(passed=False, num_failures=len(cases), failure_sample=_masked_sample(cases))
    finally:
        _drop_pandera_accessor(frame)
    return SchemaReport(passed=True, num_failures=0)


def _drop_pandera_accessor(frame: pd.DataFrame) -> None:
    """Validation caches a ``frame.pandera`` accessor that points back at the frame: a reference cycle
    that keeps the whole batch (~100 MB at 90k rows) alive until the next full garbage collection,
    on top of the next batch. Nothing here reads the accessor, so it is dropped."""
    frame.__dict__.pop("pandera", None)


def _masked_sample(cases: pd.DataFrame) -> pd.DataFrame:
    sample = cases.head(FAILURE_SAMPLE_SIZE).reindex(columns=list(FAILURE_SAMPLE_COLUMNS)).reset_index(drop=True)
    text = mask_digit_runs(sample["failure_case"].astype(str))
    sample["failure_case"] = text.where(text.str.len() <= _CASE_CHARS, text.str.slice(0, _CASE_CHARS) + "…")
    return sample.astype(object).where(sample.notna(), None)


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
