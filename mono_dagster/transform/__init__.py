"""Mono raw transactions → TaxPoynt canonical transactions: pure functions on DataFrames.

No Dagster, no I/O: the pipeline calls `build_raw_frame_from_pages`, `to_canonical` and `validate_canonical`
and decides what to do with the result. Column contracts live in `mono_dagster.records`; every column
is documented in `docs/canonical_schema.md`.
"""

from __future__ import annotations

from mono_dagster.transform.canonical import CanonicalBatch, to_canonical
from mono_dagster.transform.channels import CHANNELS
from mono_dagster.transform.identity import CONTENT_HASH_FIELDS, MONO_NAMESPACE
from mono_dagster.transform.money import DEFAULT_CURRENCY, MINOR_UNIT_EXPONENTS
from mono_dagster.transform.raw import (
    ACCOUNT_COLUMNS,
    RAW_FRAME_COLUMNS,
    TransformInputError,
    build_raw_frame,
    build_raw_frame_from_pages,
)
from mono_dagster.transform.schema import CanonicalTransactionSchema, SchemaReport, validate_canonical

__all__ = [
    "ACCOUNT_COLUMNS",
    "CHANNELS",
    "CONTENT_HASH_FIELDS",
    "DEFAULT_CURRENCY",
    "MINOR_UNIT_EXPONENTS",
    "MONO_NAMESPACE",
    "RAW_FRAME_COLUMNS",
    "CanonicalBatch",
    "CanonicalTransactionSchema",
    "SchemaReport",
    "TransformInputError",
    "build_raw_frame",
    "build_raw_frame_from_pages",
    "to_canonical",
    "validate_canonical",
]
