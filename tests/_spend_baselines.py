"""Valid values of the spend and policy commands' parameters, for tests/test_cli_hostile_input.py."""

from __future__ import annotations

from pathlib import Path

from _reserve_chain import P2WSH_TRUE_ADDRESS, RESERVE

KEY = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def spend_baselines(w, out: Path) -> dict[str, dict[str, str]]:
    return {
        "spend propose": {"holding": f"reserve:{RESERVE}", "to_address": P2WSH_TRUE_ADDRESS, "amount_sat": "0.1",
                          "purpose": "restitution", "order_ref": "order", "lot_id": "1", "counterparty": "",
                          "wallet": "hot", "fee_rate": "2", "fee_target": "", "out": str(out), "rpc_url": ""},
        "spend approve": {"proposal_id": "1", "by": "alice", "signature": "AkcwRAIg"},
        "spend status": {"proposal_id": "1"},
        "spend finalize": {"proposal_id": "1", "psbts": str(w.bundle), "out": str(out)},
        "spend cancel": {"proposal_id": "1", "by": "M. Ortiz", "reason": "stayed"},
        "spend broadcast": {"proposal_id": "1", "rpc_url": ""},
        "policy set": {"holding": f"reserve:{RESERVE}", "approvers": f"alice={KEY}", "threshold": "1"},
        "audit anchor": {"wallet": "hot", "fee_rate": "2", "fee_target": "", "order_ref": "order", "out": str(out), "rpc_url": ""},
    }
