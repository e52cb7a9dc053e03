"""Proofs of reserves end to end: a regtest chain grown through Bitcoin Core's engine, a book synced
from it, bundles proved with the wallets' software keys or through PSBTs signed by embit, and
verified from the data directory alone — including after any one-bit change."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from embit import bip32
from embit.networks import NETWORKS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.book import Book, EntryKind
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind, seed_from_label
from boveda.proofs.bundle import ProofBundle, load_bundle, parse_bundle, write_bundle
from boveda.proofs.challenge import ProofError
from boveda.proofs.demo import prove_and_verify
from boveda.proofs.prove import prepare_bundle, prove
from boveda.proofs.psbt import ToSignPSBT, finalize, write_psbts
from boveda.proofs.software_signer import SeedSigner
from boveda.proofs.verify import check, read_chain, verify_bundle
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync

REGTEST = Network.REGTEST
COIN = 100_000_000
LABEL = "proofs test"
KINDS = {"hot": WalletKind.WPKH, "cold": WalletKind.WSH_SORTEDMULTI, "taproot": WalletKind.TR}
BOVEDA = [str(Path(sys.executable).with_name("boveda"))]


@dataclass(frozen=True)
class Chain:
    datadir: Path
    book_location: str
    proof_height: int  # the past height proved; "hot" spends a coin after it
    tip_height: int
    balances_at_proof: dict[str, int]
    balances_at_tip: dict[str, int]
    spent_after: bytes  # a script of "hot" funded at proof_height and emptied after it


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    folder = tmp_path_factory.mktemp("proofs")
    sim = Simulation(folder / "bitcoin", seed_label=LABEL)
    for name, kind in KINDS.items():
        sim.add_wallet(name, kind)
    sim.add_wallet("outsider", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    birth = sim.height
    sim.pay("miner", [(sim.receive_script(name), 7 * COIN) for name in KINDS]
            + [(sim.receive_script("hot"), 3 * COIN), (sim.receive_script("cold"), 2 * COIN)])
    sim.mine()
    sim.pay("miner", [(sim.receive_script("taproot"), COIN // 3)])
    sim.mine()
    proof_height = sim.height
    balances_at_proof = {name: sim.balance_sat(name) for name in KINDS}
    spent_coin = next(u for u in sim.utxos("hot") if u.value_sat == 3 * COIN)
    sim.pay("hot", [(sim.receive_script("outsider"), COIN)], utxos=[spent_coin.outpoint])
    sim.pay("miner", [(sim.receive_script("cold"), COIN)])
    sim.mine_blocks(2)
    balances_at_tip = {name: sim.balance_sat(name) for name in KINDS}
    tip = sim.height
    sim.close()

    location = str(folder / "boveda.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("R", name="Test reserve")
        for name, kind in KINDS.items():
            wallet = sim.wallet(name)
            register_wallet(book, name, wallet.multipath_descriptor(), network=REGTEST, reserve="R",
                            birth_height=birth, gap_limit=5)
        with KernelSource(sim.datadir, REGTEST) as kernel, BlockFileSource(sim.datadir, REGTEST, kernel=kernel) as files:
            sync(book.store, files, network=REGTEST)
    return Chain(sim.datadir, location, proof_height, tip, balances_at_proof, balances_at_tip,
                 spent_coin.script_pubkey)


def proved(chain: Chain, *, height: int | None = None, challenge: str = "nonce-1") -> ProofBundle:
    with Book.open(chain.book_location) as book:
        return prove(book, "R", SeedSigner.for_reserve(book, "R", LABEL), height=height, challenge=challenge)


@pytest.fixture(scope="module")
def past_bundle(chain) -> ProofBundle:
    return proved(chain, height=chain.proof_height)


@pytest.fixture(scope="module")
def past_facts(chain, past_bundle):
    with KernelSource(chain.datadir, REGTEST) as kernel, BlockFileSource(chain.datadir, REGTEST, kernel=kernel) as files:
        return read_chain(past_bundle, kernel, files)


def run(*args, cwd):
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("BOVEDA_BOOK", None)
    return subprocess.run([*BOVEDA, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False)


# -- a bundle of all three kinds verifies ---------------------------------------------------------


def test_a_bundle_of_wpkh_wsh_multisig_and_taproot_addresses_verifies(chain, past_bundle):
    kinds = {a.script_pubkey[:2] for a in past_bundle.addresses}
    assert kinds == {b"\x00\x14", b"\x00\x20", b"\x51\x20"}  # P2WPKH, P2WSH (2-of-3), P2TR
    assert past_bundle.is_signed and past_bundle.height == chain.proof_height
    assert past_bundle.assets_sat == sum(chain.balances_at_proof.values())
    by_wallet = {}
    for address in past_bundle.addresses:
        by_wallet[address.wallet] = by_wallet.get(address.wallet, 0) + address.balance_sat
    assert by_wallet == chain.balances_at_proof
    report = verify_bundle(past_bundle, chain.datadir)
    assert report.ok, report.failures
    assert report.chain_assets_sat == past_bundle.assets_sat
    assert {a.proof_verdict for a in report.addresses} == {bip322.Verdict.VALID}


def test_the_message_binds_reserve_network_height_block_and_challenge(chain, past_bundle):
    lines = past_bundle.message.split("\n")
    assert lines[:6] == ["Bóveda proof of reserves v1", "reserve: R", "network: regtest",
                         f"height: {chain.proof_height}", f"block: {past_bundle.block_hash_hex}", "challenge: nonce-1"]
    assert lines[6].startswith("liabilities: ") and len(lines) == 7
    with KernelSource(chain.datadir, REGTEST) as kernel:
        assert kernel.hash_at(chain.proof_height)[::-1].hex() == past_bundle.block_hash_hex


def test_a_proof_at_a_past_height_verifies_after_the_balance_changed(chain, past_bundle):
    spent = next(a for a in past_bundle.addresses if a.script_pubkey == chain.spent_after)
    assert spent.balance_sat == 3 * COIN
    now = proved(chain)
    assert now.height == chain.tip_height
    assert chain.spent_after not in {a.script_pubkey for a in now.addresses}  # emptied after the proof height
    assert now.assets_sat == sum(chain.balances_at_tip.values()) != past_bundle.assets_sat
    assert verify_bundle(past_bundle, chain.datadir).ok
    assert verify_bundle(now, chain.datadir).ok


def test_the_bundle_round_trips_through_its_json(tmp_path, past_bundle):
    path = tmp_path / "bundle.json"
    write_bundle(past_bundle, path)
    assert load_bundle(path) == past_bundle
    assert json.loads(path.read_text())["version"] == 1


# -- mutations: one bit changed, verify fails -----------------------------------------------------


def flip_proof_bit(proof: str, bit: int) -> str:
    raw = bytearray(bip322._decode_base64(proof))
    raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
    return bip322._base64(bytes(raw))


def mutated(bundle: ProofBundle, path: tuple, bit: int) -> ProofBundle:
    """The bundle with one bit of the JSON value at `path` flipped (hex strings: of their bytes)."""
    document = copy.deepcopy(bundle.to_json())
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    value = parent[path[-1]]
    if isinstance(value, int):
        parent[path[-1]] = value ^ (1 << bit)
    elif path[-1] == "proof":
        parent[path[-1]] = flip_proof_bit(value, bit)
    else:
        raw = bytearray(bytes.fromhex(value))
        raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
        parent[path[-1]] = raw.hex()
    return parse_bundle(document)


def test_flipping_any_bit_of_any_proof_fails_verification(past_bundle, past_facts):
    assert check(past_bundle, past_facts).ok

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(index=st.integers(0, len(past_bundle.addresses) - 1), bit=st.integers(0, 8 * 300))
    def one_flip(index, bit):
        report = check(mutated(past_bundle, ("addresses", index, "proof"), bit), past_facts)
        assert not report.ok
        assert any(f.startswith(past_bundle.addresses[index].address) and "proof is" in f for f in report.failures)

    one_flip()


@pytest.mark.parametrize("bit", [0, 1, 7, 20, 33])
def test_flipping_a_bit_of_a_balance_fails_verification(past_bundle, past_facts, bit):
    for index in (0, len(past_bundle.addresses) - 1):
        report = check(mutated(past_bundle, ("addresses", index, "balance_sat"), bit), past_facts)
        address = past_bundle.addresses[index].address
        assert any(f.startswith(f"{address}: balance_sat") and "differs from the chain's" in f for f in report.failures)
        assert any(f.startswith("totals.assets_sat") for f in report.failures)


@pytest.mark.parametrize("bit", [0, 1, 4, 9])
def test_flipping_a_bit_of_the_height_fails_verification(chain, past_bundle, bit):
    report = verify_bundle(mutated(past_bundle, ("height",), bit), chain.datadir)
    assert not report.ok
    assert any("block hash" in f or "above the chain's tip" in f for f in report.failures)
    assert all(a.proof_verdict is bip322.Verdict.INVALID for a in report.addresses)  # the message names the height


@pytest.mark.parametrize("bit", [0, 13, 128, 255])
def test_flipping_a_bit_of_the_block_hash_fails_verification(chain, past_bundle, bit):
    report = verify_bundle(mutated(past_bundle, ("block_hash",), bit), chain.datadir)
    assert any(f.startswith("block hash") and "is not the active chain's block" in f for f in report.failures)
    assert all(a.proof_verdict is bip322.Verdict.INVALID for a in report.addresses)


@pytest.mark.parametrize("field", ["challenge", "reserve"])
def test_changing_what_the_message_binds_invalidates_every_proof(past_bundle, past_facts, field):
    report = check(replace(past_bundle, **{field: "X" + getattr(past_bundle, field)}), past_facts)
    assert all(a.proof_verdict is bip322.Verdict.INVALID for a in report.addresses)


def test_a_tampered_message_string_is_not_trusted(past_bundle, past_facts):
    report = check(replace(past_bundle, message=past_bundle.message.replace("nonce-1", "nonce-2")), past_facts)
    assert [f for f in report.failures if "message field" in f]
    assert all(a.proof_verdict is bip322.Verdict.VALID for a in report.addresses)  # checked against the rebuilt message


def test_a_missing_or_extra_coin_and_a_wrong_total_are_named(past_bundle, past_facts):
    first = past_bundle.addresses[0]
    fewer = replace(past_bundle, addresses=(replace(first, utxos=first.utxos[1:] or ()),) + past_bundle.addresses[1:])
    assert any("is on chain but not listed" in f for f in check(fewer, past_facts).failures)
    wrong = replace(past_bundle, net_sat=past_bundle.net_sat + 1)
    expected = f"totals.net_sat is {past_bundle.net_sat + 1}, not assets − liabilities = {past_bundle.net_sat}"
    assert check(wrong, past_facts).failures == (expected,)


def test_a_proof_moved_to_another_address_fails(past_bundle, past_facts):
    a, b = past_bundle.addresses[0], past_bundle.addresses[1]
    swapped = replace(past_bundle, addresses=(replace(a, proof=b.proof, proof_format=b.proof_format), b)
                      + past_bundle.addresses[2:])
    assert not check(swapped, past_facts).addresses[0].ok


# -- liabilities -----------------------------------------------------------------------------------


def test_liabilities_the_book_records_are_declared_signed_and_subtracted(chain, tmp_path):
    location = str(tmp_path / "book.db")
    Path(location).write_bytes(Path(chain.book_location).read_bytes())
    with Book.open(location) as book:
        book.add_purchase(reserve="R", amount_sat=5 * COIN, txid="ab" * 32, date="2011-02-01")
        owed = book.record_entry(EntryKind.RESTITUTION, [("reserve:R", -COIN), ("external:victims", COIN)],
                                 txids=("cd" * 32,), authority_ref="Restitution order 7", date="2011-02-01")
        later = book.record_entry(EntryKind.RESTITUTION, [("reserve:R", -COIN), ("external:victims", COIN)],
                                  authority_ref="Restitution order 8",
                                  date=datetime.date.today() + datetime.timedelta(days=30))
        bundle = prove(book, "R", SeedSigner.for_reserve(book, "R", LABEL), height=chain.proof_height)
    # Both are owed: "cd"*32 is no payment on chain, and an obligation the book records counts whatever its
    # date — a proof never claims the reserve owes less than its book says (docs/proof-bundle.md).
    assert [(x.entry_id, x.kind, x.creditor, x.amount_sat) for x in bundle.liabilities] == [
        (owed.entry_id, "restitution", "external:victims", COIN), (later.entry_id, "restitution", "external:victims",
                                                                  COIN)]
    assert (bundle.liabilities_sat, bundle.net_sat) == (2 * COIN, bundle.assets_sat - 2 * COIN)
    assert verify_bundle(bundle, chain.datadir).ok
    hidden = mutated(bundle, ("liabilities", 0, "amount_sat"), 3)
    report = verify_bundle(hidden, chain.datadir)
    assert any(f.startswith("totals.liabilities_sat") for f in report.failures)
    assert all(a.proof_verdict is bip322.Verdict.INVALID for a in report.addresses)  # the keys signed the liabilities


def test_a_book_without_obligations_declares_none(past_bundle):
    assert past_bundle.liabilities == () and past_bundle.liabilities_sat == 0
    assert past_bundle.net_sat == past_bundle.assets_sat


# -- PSBTs for external signers -----------------------------------------------------------------


def embit_roots(name: str) -> list[bip32.HDKey]:
    count = 3 if KINDS[name] is WalletKind.WSH_SORTEDMULTI else 1
    return [bip32.HDKey.from_seed(seed_from_label(f"{LABEL}/{name}/{i}"), version=NETWORKS["test"]["xprv"])
            for i in range(count)]


def test_psbts_signed_by_embit_finalize_into_a_bundle_that_verifies(chain, tmp_path):
    with Book.open(chain.book_location) as book:
        unsigned = prepare_bundle(book, "R", height=chain.proof_height, challenge="asked by a journalist")
        paths = write_psbts(book, unsigned, tmp_path / "psbts")
    assert len(paths) == len(unsigned.addresses) and not unsigned.is_signed
    assert not verify_bundle(unsigned, chain.datadir).ok  # an unsigned bundle proves nothing
    with pytest.raises(ProofError, match="no signed PSBT"):
        finalize(unsigned, tmp_path / "psbts")
    for path, address in zip(paths, unsigned.addresses):
        psbt = ToSignPSBT.from_base64(path.read_text().strip())
        assert psbt.tx.version == 0 and psbt.inputs[0].sequence == 0  # what BIP-322's simple proofs sign
        roots = embit_roots(address.wallet)[:2]  # 2 of the 3 cosigners; the single key otherwise
        assert sum(psbt.sign_with(root) for root in roots) == len(roots)
        path.write_text(psbt.to_base64())
    final = finalize(unsigned, tmp_path / "psbts")
    assert final.is_signed and {a.proof_format for a in final.addresses} == {"simple"}
    report = verify_bundle(final, chain.datadir)
    assert report.ok, report.failures


def test_a_signer_that_changes_version_or_sequence_gives_full_proofs_that_verify(chain, tmp_path):
    with Book.open(chain.book_location) as book:
        unsigned = prepare_bundle(book, "R", height=chain.proof_height, challenge="full")
        paths = write_psbts(book, unsigned, tmp_path)
    for path, address in zip(paths, unsigned.addresses):
        psbt = ToSignPSBT.from_base64(path.read_text().strip())
        psbt.tx_version, psbt.inputs[0].sequence = 2, 0xFFFFFFFD
        for root in embit_roots(address.wallet)[:2]:
            psbt.sign_with(root)
        path.write_text(psbt.to_base64())
    final = finalize(unsigned, tmp_path)
    assert {a.proof_format for a in final.addresses} == {"full"}
    assert verify_bundle(final, chain.datadir).ok


def test_a_psbt_signed_for_another_message_is_not_accepted(chain, tmp_path):
    with Book.open(chain.book_location) as book:
        first = prepare_bundle(book, "R", height=chain.proof_height, challenge="one")
        second = prepare_bundle(book, "R", height=chain.proof_height, challenge="two")
        paths = write_psbts(book, first, tmp_path)
    for path, address in zip(paths, first.addresses):
        psbt = ToSignPSBT.from_base64(path.read_text().strip())
        for root in embit_roots(address.wallet)[:2]:
            psbt.sign_with(root)
        path.write_text(psbt.to_base64())
    with pytest.raises(ProofError, match="no signed PSBT"):
        finalize(second, tmp_path)


# -- the command line, as a journalist runs it --------------------------------------------------


def test_verify_needs_only_the_bundle_and_a_datadir(chain, past_bundle, tmp_path):
    folder = tmp_path / "journalist"
    folder.mkdir()
    write_bundle(past_bundle, folder / "proof.json")
    result = run("verify", "proof.json", "--datadir", str(chain.datadir), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout and "ADDRESS" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["proof.json"]  # no book was made or needed
    as_json = run("verify", "proof.json", "--datadir", str(chain.datadir), "--json", cwd=folder)
    document = json.loads(as_json.stdout)
    assert document["ok"] is True and len(document["addresses"]) == len(past_bundle.addresses)

    tampered = mutated(past_bundle, ("addresses", 0, "balance_sat"), 0)
    write_bundle(tampered, folder / "tampered.json")
    failed = run("verify", "tampered.json", "--datadir", str(chain.datadir), cwd=folder)
    assert failed.returncode == 1
    assert f"FAIL {past_bundle.addresses[0].address}: balance_sat" in failed.stdout
    assert "FAILED" in failed.stdout


def test_prove_and_finalize_from_the_command_line(chain, tmp_path):
    book = ["--book", chain.book_location]
    signed = run(*book, "prove", "--reserve", "R", "--at", str(chain.proof_height), "--challenge", "cli",
                 "--seed-label", LABEL, "--out", "signed.json", cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert load_bundle(tmp_path / "signed.json").is_signed
    assert run("verify", "signed.json", "--datadir", str(chain.datadir), cwd=tmp_path).returncode == 0

    unsigned = run(*book, "prove", "--reserve", "R", "--psbt-dir", "psbts", "--out", "unsigned.json", cwd=tmp_path)
    assert unsigned.returncode == 0, unsigned.stderr
    assert "boveda prove finalize" in unsigned.stdout
    refused = run("prove", "finalize", "unsigned.json", "--psbt-dir", "psbts", "--out", "final.json", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error: no signed PSBT")
    assert len(refused.stderr.strip().splitlines()) == 1
    bundle = load_bundle(tmp_path / "unsigned.json")
    for path in sorted((tmp_path / "psbts").iterdir()):
        psbt = ToSignPSBT.from_base64(path.read_text().strip())
        address = next(a for a in bundle.addresses if a.script_pubkey == psbt.inputs[0].witness_utxo.script_pubkey.data)
        for root in embit_roots(address.wallet)[:2]:
            psbt.sign_with(root)
        path.write_text(psbt.to_base64())
    done = run("prove", "finalize", "unsigned.json", "--psbt-dir", "psbts", "--out", "final.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert run("verify", "final.json", "--datadir", str(chain.datadir), cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no bundle file at"),
        ("{not json", "is not JSON"),
        ('{"version": 3}', "bundle version 3 is not known"),
        ('{"version": 1, "reserve": "R"}', "bundle field network is missing"),
    ],
)
def test_an_unreadable_bundle_is_exit_2_and_one_line(chain, tmp_path, content, message):
    if content is not None:
        (tmp_path / "proof.json").write_text(content)
    result = run("verify", "proof.json", "--datadir", str(chain.datadir), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_datadir_of_another_network_is_exit_2(chain, past_bundle, tmp_path):
    write_bundle(past_bundle, tmp_path / "proof.json")
    other = past_bundle.to_json() | {"network": "signet"}
    (tmp_path / "signet.json").write_text(json.dumps(other))
    for args, message in ((["proof.json", "--network", "main"], "is a regtest proof, not main"),
                          (["signet.json"], "no signet block data"),
                          (["proof.json", "--datadir", str(tmp_path / "absent")], "no data directory")):
        result = run("verify", *args, *([] if "--datadir" in args else ["--datadir", str(chain.datadir)]),
                     cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_prove_refuses_what_it_cannot_do(chain, tmp_path):
    book = ["--book", chain.book_location]
    unknown = run(*book, "prove", "--reserve", "NOPE", "--seed-label", LABEL, "--out", "x.json", cwd=tmp_path)
    assert unknown.returncode == 2 and "no reserve 'NOPE'" in unknown.stderr
    beyond = run(*book, "prove", "--reserve", "R", "--at", str(chain.tip_height + 1), "--seed-label", LABEL,
                 "--out", "x.json", cwd=tmp_path)
    assert beyond.returncode == 2 and "synced to height" in beyond.stderr
    wrong_keys = run(*book, "prove", "--reserve", "R", "--seed-label", "another label", "--out", "x.json", cwd=tmp_path)
    assert wrong_keys.returncode == 2 and "cannot sign for" in wrong_keys.stderr
    newline = run(*book, "prove", "--reserve", "R", "--seed-label", LABEL, "--challenge", "a\nb", "--out", "x.json",
                  cwd=tmp_path)
    assert newline.returncode == 2 and "challenge must be one line" in newline.stderr
    assert not (tmp_path / "x.json").exists()


# -- the demo's hook ----------------------------------------------------------------------------


def test_the_demo_hook_proves_and_verifies_every_reserve(chain, tmp_path):
    @dataclass
    class Scenario:
        seed: str

    @dataclass
    class Built:
        scenario: Scenario
        datadir: Path

    with Book.open(chain.book_location) as book:
        results = prove_and_verify(book, Built(Scenario(LABEL), chain.datadir), tmp_path)
    assert [(r.code, r.ok, r.bundle_path.name) for r in results] == [("R", True, "proof-R.json")]
    assert load_bundle(tmp_path / "proof-R.json").height == chain.tip_height
