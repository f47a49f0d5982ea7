"""The pipeline's steps as plain Python: sync (Mono → raw pages), canonicalise (raw → validated
canonical stage + quarantine), persist (stage → `bank_transactions` + outbox, one transaction).

The Dagster assets and the benchmark call these; nothing here imports Dagster.
"""
