"""The README's walk-through script (``examples.bank_kyc.walkthrough``) run in-process against the mock and
the bank: the very code a newcomer runs against the served pair."""

from __future__ import annotations

from bank_support import Bank
from lifecycle_support import World

from examples.bank_kyc.walkthrough import HANAKO, HANAKO_MOVED, run


def test_bank_walkthrough_tells_the_whole_story(world: World, bank: Bank) -> None:
    lines: list[str] = []
    seen = run(world.client, bank.client, say=lines.append)
    status, opened = seen["opened"]
    assert status == 201
    assert seen["replay"][0] == 409
    assert seen["replay"][1]["code"] == "CHALLENGE_REPLAYED"
    assert seen["login"][0] == 200
    assert seen["login"][1]["customer_id"] == opened["customer_id"]
    assert seen["me_before"]["address"] == HANAKO["address"]
    assert seen["stranger"][0] == 401
    assert seen["stranger"][1]["code"] == "LOGIN_NOT_RECOGNISED"
    assert seen["consent"][0] == 200
    assert seen["delivery"]["delivered"] >= 1
    assert seen["me_after"]["address"] == HANAKO_MOVED["address"]
    assert seen["me_after"]["reverification_required"] is False
    assert seen["me_after"]["attributes_source"] == "platform"
    assert seen["forged"][0] == 401
    assert seen["forged"][1]["code"] == "WEBHOOK_SIGNATURE_INVALID"
    text = "\n".join(lines)
    assert "== 8. A forged webhook" in text
    assert opened["customer_id"] in text
    # One confirmation record (the opening), one appended attribute update (the move).
    assert len(bank.records()) == 1
    updates = bank.service.customers.attribute_updates(opened["customer_id"])
    assert [u.trigger for u in updates][:1] == ["webhook"]
