"""The code location loads, and every asset and check carries what a Dagster user expects to see."""

from __future__ import annotations

import dagster as dg

from mono_dagster.definitions import defs
from mono_dagster.defs import names
from mono_dagster.defs.partitions import SHARD_COUNT, mono_partitions
from mono_dagster.defs.resources import MonoResource, mono_resource_from_environment


def test_the_code_location_is_loadable():
    dg.Definitions.validate_loadable(defs)


def test_assets_are_one_group_with_owners_kinds_tags_descriptions_and_single_run_backfills():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == {names.RAW_ASSET, names.CANONICAL_ASSET, names.PERSISTED_ASSET}
    for spec in specs.values():
        assert spec.group_name == names.GROUP
        assert spec.owners == names.OWNERS
        assert spec.kinds and spec.description and spec.tags.get("provider") == "mono"
        assert spec.partitions_def == mono_partitions
    raw = defs.resolve_assets_def(names.RAW_ASSET)
    assert raw.backfill_policy == dg.BackfillPolicy.single_run()


def test_partitions_are_days_by_a_bounded_number_of_shards():
    dimensions = {d.name: d.partitions_def for d in mono_partitions.partitions_defs}
    assert set(dimensions) == {"date", "shard"}
    assert len(dimensions["shard"].get_partition_keys()) == SHARD_COUNT == 8


def test_the_schema_check_blocks_and_the_persisted_asset_has_its_checks():
    checks = {key.name: key for key in defs.resolve_asset_graph().asset_check_keys}
    assert set(checks) == {
        names.SCHEMA_CHECK,
        names.ACCOUNTS_SYNCED_CHECK,
        names.RECONCILIATION_CHECK,
        names.DUPLICATES_CHECK,
        names.BALANCE_CHECK,
        names.FRESHNESS_CHECK,
    }
    canonical = defs.resolve_assets_def(names.CANONICAL_ASSET)
    schema_spec = next(spec for spec in canonical.check_specs if spec.name == names.SCHEMA_CHECK)
    assert schema_spec.blocking


def test_the_mono_resource_reads_its_secret_through_envvar_not_at_load_time(monkeypatch):
    monkeypatch.setenv("MONO_SECRET_KEY", "test_sk_from_env")
    monkeypatch.setenv("MONO_BASE_URL", "http://127.0.0.1:1")
    resource = mono_resource_from_environment()
    assert isinstance(resource, MonoResource)
    assert "test_sk_from_env" not in repr(resource)
    with dg.build_resources({"mono": resource}) as built:
        client = built.mono.get_client()
        assert client.base_url == "http://127.0.0.1:1"
        assert "test_sk_from_env" not in repr(client)
