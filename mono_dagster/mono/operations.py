"""Operation identifiers shared by the client, the retry policy, logs, metrics and events.

One module, so the names the message router and dashboards see never drift apart.
"""

from __future__ import annotations

from typing import Final

SERVICE_ROLE: Final = "mono_open_banking"

FETCH_TRANSACTIONS: Final = "mono.fetch_transactions"
TRANSFORM_TRANSACTION: Final = "mono.transform_transaction"
LIST_ACCOUNTS: Final = "mono.list_accounts"
GET_ACCOUNT: Final = "mono.get_account"

ALL_OPERATIONS: Final = (FETCH_TRANSACTIONS, TRANSFORM_TRANSACTION, LIST_ACCOUNTS, GET_ACCOUNT)
