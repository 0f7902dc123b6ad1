"""Edits a maintainer makes to a data package — a price changed, a winner
removed with the rows that depend on it, a notice added — and what a diff of
the edit must report. Works on any valid package: the sample or real imports."""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from conftest import read_rows, write_rows


@dataclass
class Edit:
    price_id: str
    price_fields: dict[str, tuple[str, str]]   # unit_price / pack_price → (old text, new text)
    winner_id: str                              # the removed winner
    removed: dict[str, set[str]]                # table → primary keys removed with it
    notice_id: str
    notice_title: str

    def pct(self, field: str) -> Decimal:
        old, new = (Decimal(v) for v in self.price_fields[field])
        return ((new - old) / old * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _fields(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as fh:
        return fh.readline().strip().split(",")


def edit_package(pkg: Path, version: str | None = None) -> Edit:
    rows = {n: read_rows(pkg / f"{n}.csv") for n in
            ("winners", "prices", "payment_standards", "execution_notices", "batches", "regions")}
    winners = {w["winner_id"]: w for w in rows["winners"]}
    priced = {p["winner_id"] for p in rows["prices"]}

    # 1. A price moves up 10 %: a maximum valid bid, so no bid ends up above it.
    kinds = ("max_bid", "median_pre")
    price = next(p for k in kinds for p in sorted(rows["prices"], key=lambda p: p["price_id"])
                 if p["kind"] == k and p["unit_price"])
    fields = {}
    old_unit = price["unit_price"]
    new_unit = f"{Decimal(old_unit) * Decimal('1.1'):.4f}"
    fields["unit_price"] = (old_unit, new_unit)
    price["unit_price"] = new_unit
    if price["pack_price"]:
        pack_size = int(winners[price["winner_id"]]["pack_size"])
        new_pack = f"{round(float(new_unit) * pack_size, 2):.2f}"
        fields["pack_price"] = (price["pack_price"], new_pack)
        price["pack_price"] = new_pack

    # 2. A winner is removed, with its prices and payment standards.
    gone = next(w for w in sorted(winners) if winners[w]["won"] == "true" and w in priced
                and w != price["winner_id"])
    removed = {
        "winners": {gone},
        "prices": {p["price_id"] for p in rows["prices"] if p["winner_id"] == gone},
        "payment_standards": {s["standard_id"] for s in rows["payment_standards"] if s["winner_id"] == gone},
    }
    write_rows(pkg / "winners.csv", [w for w in rows["winners"] if w["winner_id"] != gone],
               _fields(pkg / "winners.csv"))
    write_rows(pkg / "prices.csv", [p for p in rows["prices"] if p["winner_id"] != gone],
               _fields(pkg / "prices.csv"))
    write_rows(pkg / "payment_standards.csv",
               [s for s in rows["payment_standards"] if s["winner_id"] != gone],
               _fields(pkg / "payment_standards.csv"))

    # 3. A province publishes an execution notice.
    batch = sorted(rows["batches"], key=lambda b: b["batch_id"])[0]
    region = next(r for r in rows["regions"] if r["level"] == "province")
    title = "关于执行集中带量采购结果的通知 | 测试 *新增*"
    notice = {f: "" for f in _fields(pkg / "execution_notices.csv")}
    notice.update(notice_id="n-test-added-notice", region_code=region["region_code"],
                  batch_id=batch["batch_id"], issuer=f"{region['name']}医疗保障局", title=title,
                  published_date=batch["announced_date"],
                  execution_start=batch["agreement_start"] or batch["announced_date"],
                  source_id=batch["source_id"])
    write_rows(pkg / "execution_notices.csv", rows["execution_notices"] + [notice],
               _fields(pkg / "execution_notices.csv"))

    if version:
        meta_path = pkg / "datapackage.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["version"] = version
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return Edit(price["price_id"], fields, gone, removed, notice["notice_id"], title)
