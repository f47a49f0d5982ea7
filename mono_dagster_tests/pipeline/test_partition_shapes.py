from mono_dagster.defs.launch import partition_range_tags


def test_a_shard_without_accounts_materialises_cleanly(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    used = set(pipeline.shards(pipeline.sandbox.state.account_ids()))
    empty = next(s for s in range(8) if s not in used)
    result = pipeline.job.execute_in_process(instance=pipeline.instance, tags=partition_range_tags(start, end, empty))
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_a_single_partition_run_syncs_that_day_of_that_shard(pipeline, last_days):
    import dagster as dg

    from mono_dagster.defs.partitions import shard_key

    _, end = last_days(3)
    accounts = pipeline.register()
    shard = pipeline.shards(accounts[:1])[0]
    key = dg.MultiPartitionKey({"date": end.isoformat(), "shard": shard_key(shard)})
    result = pipeline.job.execute_in_process(instance=pipeline.instance, partition_key=key)
    assert result.success
    in_shard = [a for a in accounts if pipeline.shards([a]) == [shard]]
    persisted = {(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()}
    assert persisted == pipeline.served(end, end, in_shard)
