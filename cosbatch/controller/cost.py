"""The Cost of an estimate: its requests and cross-storage bytes at the prices the storage config
declares (`[storage.NAME.prices]`). No prices, no Cost: nothing is made up.
"""

from __future__ import annotations

from typing import Any

from cosbatch.storage import Storage

GIB = 1024**3
#: Requests a copy to another storage sends to its target (the rest go to the source storage).
TARGET_REQUESTS = frozenset({"PutObject", "UploadPart"})


def estimate_cost(requests: dict[str, int], storage: Storage, target: Storage | None = None,
                  bytes_read: int | None = None) -> dict[str, Any] | None:
    """{"Currency", "Requests", "Transfer", "Total"} or None when a storage involved declares no
    prices (or they are in different currencies). `target`: a copy's target, when it is another
    storage: its requests at its prices, and `bytes_read` at the source's per-GiB price."""
    if storage.prices is None or (target is not None and target.prices is None):
        return None
    source_prices = storage.prices
    target_prices = target.prices if target is not None else source_prices
    assert target_prices is not None
    if target_prices.currency != source_prices.currency:
        return None
    request_cost = sum(count * (target_prices if target is not None and name in TARGET_REQUESTS
                                else source_prices).per_request(name)
                       for name, count in requests.items())
    transfer = (bytes_read or 0) / GIB * source_prices.per_gib_read_across if target is not None else 0.0
    return {"Currency": source_prices.currency, "Requests": round(request_cost, 6), "Transfer": round(transfer, 6),
            "Total": round(request_cost + transfer, 6)}
