"""Every refusal of spend governance exits 2, names its rule, and leaves the audit head and the PSBT files
exactly as they were — against a real bitcoind whose Core wallets hold the keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _spend_chain import CASE, ORDER, RESERVE, approval_signature, boveda, build_spend_chain
from embit.psbt import PSBT
from embit.script import Script
from embit.transaction import TransactionInput

from boveda.book import Book
from boveda.spend import store
from boveda.spend.governance import status


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    built = build_spend_chain(tmp_path_factory.mktemp("spend"))
    yield built
    built.node.stop()


@pytest.fixture
def book(chain, tmp_path) -> str:
    return chain.copy_book(tmp_path / "book")


def head(book: str) -> str:
    with Book.open(book) as opened:
        return opened.audit_head().hash_hex


def refused(capsys, book: str, args: list[str], rule_or_text: str, files: tuple[Path, ...] = ()) -> str:
    """Runs `boveda --book BOOK ARGS`, which must exit 2 naming `rule_or_text`, changing neither head nor files."""
    before = head(book)
    contents = {f: f.read_bytes() if f.exists() else None for f in files}
    code, out, err = boveda(capsys, "--book", book, *args)
    assert code == 2, out + err
    assert rule_or_text in err, err
    assert head(book) == before
    assert {f: f.read_bytes() if f.exists() else None for f in files} == contents
    return err


def propose(chain, out: Path, *extra: str, amount: str = "1.5", purpose: str = "restitution",
            holding: str = f"reserve:{RESERVE}", wallet: str = "cold") -> list[str]:
    """The arguments of `spend propose` from the reserve's 2-of-3 wallet to an outside address."""
    return ["spend", "propose", "--from", holding, "--to", chain.outsider, "--amount", amount, "--purpose", purpose,
            "--order", ORDER, "--fee-rate", "2", "--out", str(out), "--rpc-url", chain.node.rpc_url,
            "--wallet", wallet, *extra]


def proposed(capsys, chain, book: str, tmp_path: Path, *approvers: str) -> tuple[Path, str]:
    """Proposal 1 (1.5 BTC from the 2-of-3 wallet), approved by `approvers`: its PSBT file and digest."""
    out = tmp_path / "proposal.psbt"
    code, _, err = boveda(capsys, "--book", book, *propose(chain, out))
    assert code == 0, err
    with Book.open(book) as opened:
        digest = status(opened, 1).proposal.digest
    for name in approvers:
        code, _, err = boveda(capsys, "--book", book, "spend", "approve", "1", "--by", name, "--signature",
                              approval_signature(name, digest))
        assert code == 0, err
    return out, digest


def signed_files(chain, unsigned: Path, tmp_path: Path) -> list[Path]:
    paths = []
    for core_wallet in chain.signers["cold"][:2]:
        path = tmp_path / f"{core_wallet}.psbt"
        path.write_text(chain.sign_in_core(core_wallet, unsigned.read_text().strip()))
        paths.append(path)
    return paths


def test_a_no_sale_reserve_never_pays_an_exchange(chain, book, tmp_path, capsys):
    out = tmp_path / "p.psbt"
    err = refused(capsys, book, propose(chain, out, "--counterparty", "external:exchange:kraken"),
                  "refused by rule no-sale", (out,))
    assert "never pays an exchange (external:exchange:kraken)" in err


def test_a_no_sale_reserve_never_sells(chain, book, tmp_path, capsys):
    out = tmp_path / "p.psbt"
    refused(capsys, book, propose(chain, out, purpose="sale:kraken"), "refused by rule no-sale", (out,))


def test_a_custody_lot_not_yet_forfeited_is_not_sent_to_the_reserve(chain, book, tmp_path, capsys):
    out = tmp_path / "p.psbt"
    args = ["spend", "propose", "--from", f"custody:{CASE}", "--to", chain.address("cold", index=7), "--all",
            "--purpose", "forfeiture", "--lot", "1", "--order", "Final order of forfeiture", "--fee-rate", "2",
            "--out", str(out), "--rpc-url", chain.node.rpc_url]
    err = refused(capsys, book, args, "refused by rule custody-lot-state", (out,))
    assert "lot 1 is seized" in err
    for step in (("lot", "forfeiture-pending", "1", "--order", "Complaint"), ("lot", "forfeit", "1", "--order", "FO")):
        assert boveda(capsys, "--book", book, *step)[0] == 0
    code, _, err = boveda(capsys, "--book", book, *args)
    assert code == 0, err  # once forfeited, the same proposal passes, and finalizes into the lot's allocation
    with Book.open(book) as opened:
        digest = status(opened, 1).proposal.digest
    for name in ("alice", "bob"):
        assert boveda(capsys, "--book", book, "spend", "approve", "1", "--by", name, "--signature",
                      approval_signature(name, digest))[0] == 0
    signed = tmp_path / "signed.psbt"
    signed.write_text(chain.sign_in_core(chain.signers["seized"][0], out.read_text().strip(), finalize=True))
    code, _, err = boveda(capsys, "--book", book, "spend", "finalize", "1", str(signed))
    assert code == 0, err
    with Book.open(book) as opened:
        txid = status(opened, 1).proposal.unsigned_txid
        assert opened.lot(1).state.value == "allocated:reserve"
        assert [e.kind.value for e in opened.entries_citing(txid)] == ["forfeiture_transfer"]


def test_a_node_without_a_fee_estimate_asks_for_a_fee_rate(chain, book, tmp_path, capsys):
    out = tmp_path / "p.psbt"
    args = propose(chain, out)
    rate = args.index("--fee-rate")
    del args[rate:rate + 2]
    refused(capsys, book, args, "give --fee-rate SAT_VB", (out,))


def test_an_approval_by_a_key_not_the_approvers_is_refused(chain, book, tmp_path, capsys):
    _, digest = proposed(capsys, chain, book, tmp_path)
    err = refused(capsys, book, ["spend", "approve", "1", "--by", "alice", "--signature",
                                 approval_signature("mallory", digest)], "refused by rule approval-signature")
    assert "not alice's key" in err
    refused(capsys, book, ["spend", "approve", "1", "--by", "mallory", "--signature",
                           approval_signature("mallory", digest)], "refused by rule approver-known")


def test_an_approval_over_another_digest_is_refused(chain, book, tmp_path, capsys):
    proposed(capsys, chain, book, tmp_path)
    refused(capsys, book, ["spend", "approve", "1", "--by", "alice", "--signature",
                           approval_signature("alice", "ab" * 32)], "refused by rule approval-signature")


def test_nothing_is_finalized_below_threshold(chain, book, tmp_path, capsys):
    unsigned, _ = proposed(capsys, chain, book, tmp_path, "alice")
    files = signed_files(chain, unsigned, tmp_path)
    err = refused(capsys, book, ["spend", "finalize", "1", *map(str, files)], "refused by rule approval-threshold",
                  (*files, unsigned, tmp_path / "tx.hex"))
    assert "1 of the 2 approvals" in err


def _altered(path: Path, change) -> Path:
    psbt = PSBT.from_base64(path.read_text().strip())
    change(psbt)
    target = path.with_name("altered-" + path.name)
    target.write_text(psbt.to_base64())
    return target


def _new_destination(psbt: PSBT) -> None:
    psbt.outputs[0].script_pubkey = Script(bytes.fromhex("0014") + bytes(20))


def _raised_fee(psbt: PSBT) -> None:
    psbt.outputs[1].value -= 10_000


def _extra_input(psbt: PSBT) -> None:
    from embit.psbt import InputScope

    psbt.inputs.append(InputScope(vin=TransactionInput(bytes(range(32)), 0, sequence=0xFFFFFFFD)))


@pytest.mark.parametrize(("change", "words"), [
    (_new_destination, "alters output 0: it pays another script"),
    (_raised_fee, "raises the fee by 0.00010000 BTC"),
    (_extra_input, "adds input"),
])
def test_a_signed_psbt_whose_transaction_differs_from_the_approved_one_is_refused(chain, book, tmp_path, capsys,
                                                                                  change, words):
    unsigned, _ = proposed(capsys, chain, book, tmp_path, "alice", "bob")
    good, other = signed_files(chain, unsigned, tmp_path)
    bad = _altered(other, change)
    err = refused(capsys, book, ["spend", "finalize", "1", str(good), str(bad)],
                  "refused by rule unchanged-transaction", (good, other, bad, unsigned))
    assert words in err
    code, _, err = boveda(capsys, "--book", book, "spend", "finalize", "1", str(good), str(other))
    assert code == 0, err  # the unaltered pair finalizes


def test_a_cancelled_proposal_is_never_broadcast(chain, book, tmp_path, capsys):
    unsigned, _ = proposed(capsys, chain, book, tmp_path, "alice", "bob")
    files = signed_files(chain, unsigned, tmp_path)
    assert boveda(capsys, "--book", book, "spend", "finalize", "1", *map(str, files))[0] == 0
    assert boveda(capsys, "--book", book, "spend", "cancel", "1", "--by", "M. Ortiz", "--reason", "stayed")[0] == 0
    refused(capsys, book, ["spend", "broadcast", "1", "--rpc-url", chain.node.rpc_url], "was cancelled")
    assert chain.node.cli("getrawmempool") == []


def test_the_spend_tables_are_rebuilt_from_an_imported_log(chain, book, tmp_path, capsys):
    proposed(capsys, chain, book, tmp_path, "alice")
    export = tmp_path / "export.json"
    assert boveda(capsys, "--book", book, "export", str(export))[0] == 0
    copy = str(tmp_path / "imported.db")
    assert boveda(capsys, "--book", copy, "init")[0] == 0
    code, _, err = boveda(capsys, "--book", copy, "import", str(export))
    assert code == 0, err
    with Book.open(copy) as imported, Book.open(book) as original:
        assert status(imported, 1).to_json() == status(original, 1).to_json()  # `import` rebuilt them
        assert store.rebuild(imported) == 4  # two policies, the proposal, an approval
        assert status(imported, 1).to_json() == status(original, 1).to_json()
        assert imported.audit_head() == original.audit_head()
    code, out, _ = boveda(capsys, "--book", copy, "spend", "status", "1", "--json")
    assert json.loads(out)["approvals"][0]["approver"] == "alice"


def test_every_spend_write_command_prints_its_ids_as_json(chain, book, tmp_path, capsys):
    """Issue 14's `--json` on every write command, for the spend ones: a script needs no text parsing."""
    out = tmp_path / "proposal.psbt"
    code, stdout, err = boveda(capsys, "--book", book, *propose(chain, out), "--json")
    assert code == 0, err
    made = json.loads(stdout)
    assert made["proposal_id"] == 1 and made["psbt"] == str(out) and len(made["digest"]) == 64
    assert made["amount_sat"] == 150_000_000 and made["fee_sat"] > 0
    code, stdout, err = boveda(capsys, "--book", book, "spend", "approve", "1", "--by", "alice", "--signature",
                               approval_signature("alice", made["digest"]), "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"proposal_id": 1, "approver": "alice", "approvals": 1, "threshold": 2}
    code, stdout, err = boveda(capsys, "--book", book, "spend", "approve", "1", "--by", "bob", "--signature",
                               approval_signature("bob", made["digest"]), "--json")
    assert json.loads(stdout)["approvals"] == 2
    code, stdout, err = boveda(capsys, "--book", book, "spend", "finalize", "1",
                               *map(str, signed_files(chain, out, tmp_path)), "--json")
    assert code == 0, err
    final = json.loads(stdout)
    assert final["proposal_id"] == 1 and final["txid"] == made["unsigned_txid"] and final["signers"]
    code, stdout, err = boveda(capsys, "--book", book, "spend", "broadcast", "1", "--print", "--json")
    assert code == 0, err
    printed = json.loads(stdout)
    assert printed["sent"] is False and printed["txid"] == final["txid"] and printed["tx_hex"]
    code, stdout, err = boveda(capsys, "--book", book, "spend", "cancel", "1", "--by", "M. Ortiz", "--reason",
                               "stayed", "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"proposal_id": 1, "state": "cancelled"}
    # Cancelled after it was finalized: its pending entry is reversed, not left claiming a payment.
    code, stdout, err = boveda(capsys, "--book", book, "journal", "--txid", final["txid"], "--json")
    entries = json.loads(stdout)["entries"]
    assert len(entries) == 2 and entries[1]["corrects_entry_id"] == entries[0]["entry_id"]
    assert entries[0]["corrected_by"] == [entries[1]["entry_id"]]
    code, stdout, err = boveda(capsys, "--book", book, "audit", "verify")
    assert code == 0, stdout + err
