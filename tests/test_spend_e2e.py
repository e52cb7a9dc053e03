"""Spend governance end to end against a real bitcoind: propose → two officials approve → two Bitcoin Core
wallets sign (walletprocesspsbt) → finalize → broadcast → mine → sync → reconcile shows the movement
matched to the proposal's entry; and one P2WPKH and one P2TR key-path spend signed by Core."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _spend_chain import ORDER, RESERVE, approval_signature, boveda, build_spend_chain


@pytest.fixture
def chain(tmp_path, capsys):
    built = build_spend_chain(tmp_path, capsys)
    yield built
    built.node.stop()


def _status(capsys, book: str, proposal_id: int) -> dict:
    code, out, err = boveda(capsys, "--book", book, "spend", "status", str(proposal_id), "--json")
    assert code == 0, err
    return json.loads(out)


def _approve(capsys, book: str, proposal_id: int, *names: str) -> None:
    digest = _status(capsys, book, proposal_id)["digest"]
    for name in names:
        code, _out, err = boveda(capsys, "--book", book, "spend", "approve", str(proposal_id), "--by", name,
                                "--signature", approval_signature(name, digest))
        assert code == 0, err


def _movement(reconciliation: dict, txid: str) -> dict:
    return next(m for m in reconciliation["movements"] if m["txid"] == txid)


def test_a_2_of_3_reserve_spend_signed_by_two_core_wallets_is_matched_to_its_entry(chain, tmp_path: Path, capsys):
    book, url = chain.book_path, chain.node.rpc_url
    proposal_psbt = tmp_path / "proposal-1.psbt"
    code, out, err = boveda(capsys, "--book", book, "spend", "propose", "--from", f"reserve:{RESERVE}",
                            "--to", chain.outsider, "--amount", "1.5", "--purpose", "restitution", "--order", ORDER,
                            "--wallet", "cold", "--fee-rate", "2", "--out", str(proposal_psbt), "--rpc-url", url)
    assert code == 0, err
    assert "proposal 1:" in out
    _approve(capsys, book, 1, "alice", "bob")
    status = _status(capsys, book, 1)
    assert status["approved"] and [a["approver"] for a in status["approvals"]] == ["alice", "bob"]

    unsigned = proposal_psbt.read_text().strip()
    decoded = chain.node.cli("decodepsbt", unsigned)
    assert all(len(i["bip32_derivs"]) == 3 and "non_witness_utxo" in i and "witness_utxo" in i
               for i in decoded["inputs"])
    change = [o for o in decoded["outputs"] if o.get("bip32_derivs")]
    assert len(change) == 1 and all("/1/" in d["path"] for d in change[0]["bip32_derivs"])

    signed = []
    for core_wallet in chain.signers["cold"][:2]:
        path = tmp_path / f"{core_wallet}.psbt"
        path.write_text(chain.sign_in_core(core_wallet, unsigned))
        signed.append(str(path))
    code, out, err = boveda(capsys, "--book", book, "spend", "finalize", "1", *signed, "--out", str(tmp_path / "tx"))
    assert code == 0, err
    txid = status["unsigned_txid"]
    assert f"txid {txid}" in out
    entry_id = int(re.search(r"entry (\d+): restitution to external:victims", out).group(1))
    cosigners = [k.fingerprint_hex for k in chain.wallets["cold"].account_keys]
    signers = _status(capsys, book, 1)["signers"]
    assert signers and all(set(s["fingerprints"]) == set(cosigners[:2]) for s in signers)  # the two Core wallets

    code, out, err = boveda(capsys, "--book", book, "reconcile", "--reserve", RESERVE, "--json")
    pending = json.loads(out)
    assert any(d["kind"] == "unconfirmed_entry" and d.get("txid") == txid for d in pending["discrepancies"])

    code, out, err = boveda(capsys, "--book", book, "spend", "broadcast", "1", "--rpc-url", url)
    assert code == 0, err
    chain.mine()
    code, out, err = boveda(capsys, "--book", book, "reconcile", "--reserve", RESERVE, "--json", "--rpc-url", url)
    assert code == 0, err + out
    report = json.loads(out)
    movement = _movement(report, txid)
    assert movement["kind"] == "outflow" and movement["amount_sat"] == 150_000_000
    assert movement["entry_id"] == entry_id and movement["fee_sat"] == status["fee_sat"]
    assert not [d for d in report["discrepancies"] if d.get("txid") == txid]
    assert _status(capsys, book, 1)["state"] == "broadcast"
    code, out, err = boveda(capsys, "--book", book, "audit", "verify")
    assert code == 0, out + err


@pytest.mark.parametrize("wallet", ["hot", "taproot"])
def test_a_single_key_spend_signed_and_finalized_by_core_confirms_and_matches(chain, wallet, tmp_path: Path, capsys):
    book, url = chain.book_path, chain.node.rpc_url
    proposal_psbt = tmp_path / "p.psbt"
    code, out, err = boveda(capsys, "--book", book, "spend", "propose", "--from", f"reserve:{RESERVE}",
                            "--to", chain.outsider, "--amount", "0.25", "--purpose", "sharing:P", "--order",
                            "Sharing agreement 7", "--wallet", wallet, "--fee-rate", "3", "--out",
                            str(proposal_psbt), "--rpc-url", url)
    assert code == 0, err
    decoded = chain.node.cli("decodepsbt", proposal_psbt.read_text().strip())
    fields = "taproot_bip32_derivs" if wallet == "taproot" else "bip32_derivs"
    assert all(fields in i and "witness_utxo" in i for i in decoded["inputs"])
    assert all(("non_witness_utxo" in i) == (wallet == "hot") for i in decoded["inputs"])
    _approve(capsys, book, 1, "carol", "alice")
    signed = tmp_path / "signed.psbt"
    signed.write_text(chain.sign_in_core(chain.signers[wallet][0], proposal_psbt.read_text().strip(), finalize=True))
    code, out, err = boveda(capsys, "--book", book, "spend", "finalize", "1", str(signed))
    assert code == 0, err
    entry_id = int(re.search(r"entry (\d+): sharing to partner:P", out).group(1))
    code, out, err = boveda(capsys, "--book", book, "spend", "broadcast", "1", "--rpc-url", url)
    assert code == 0, err
    chain.mine()
    txid = _status(capsys, book, 1)["unsigned_txid"]
    code, out, err = boveda(capsys, "--book", book, "reconcile", "--reserve", RESERVE, "--json", "--rpc-url", url)
    assert code == 0, err + out
    report = json.loads(out)
    assert _movement(report, txid)["kind"] == "outflow" and _movement(report, txid)["entry_id"] == entry_id
    assert not [d for d in report["discrepancies"] if d.get("txid") == txid]
