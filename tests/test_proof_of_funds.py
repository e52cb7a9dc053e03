"""One signing round per wallet (issue 14, item 6): `prove --psbt-dir` writes one BIP-322 proof-of-funds PSBT
per wallet covering every coin of the wallet; `prove finalize` joins cosigners' copies; `verify` checks each
extra input against its own chain and counts each proved coin once. The Bitcoin Core steps of docs/signers.md
are run against the real bitcoind in tests/test_proof_of_funds_core.py."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from embit import bip32
from embit.networks import NETWORKS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.cli.main import run
from boveda.keys.software_wallet import WalletKind, seed_from_label
from boveda.proofs import bundle as bundle_module
from boveda.proofs.bundle import FUNDS_FORMAT, load_bundle, parse_bundle, parse_bundle_text
from boveda.proofs.challenge import ProofError
from boveda.proofs.funds import decode_to_sign
from boveda.proofs.psbt import ToSignPSBT
from boveda.proofs.verify import check, read_chain
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync

REGTEST = Network.REGTEST
COIN = 100_000_000
LABEL = "proof of funds test"
CASE = "1:13-cr-00950"
KINDS = {"hot": WalletKind.WPKH, "cold": WalletKind.WSH_SORTEDMULTI, "taproot": WalletKind.TR,
         "seized": WalletKind.WPKH}
RESERVE_WALLETS = ("cold", "hot", "taproot")


@dataclass(frozen=True)
class Chain:
    datadir: Path
    book_location: str
    height: int
    balances: dict[str, int]


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    folder = tmp_path_factory.mktemp("funds")
    sim = Simulation(folder / "bitcoin", seed_label=LABEL)
    for name, kind in KINDS.items():
        sim.add_wallet(name, kind)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    birth = sim.height
    reused = sim.receive_script("hot")  # one address holding two coins
    sim.pay("miner", [(reused, 2 * COIN), (sim.receive_script("hot"), 3 * COIN), (sim.receive_script("hot"), COIN // 2),
                      (sim.receive_script("cold"), 4 * COIN), (sim.receive_script("cold"), COIN),
                      (sim.receive_script("taproot"), 6 * COIN), (sim.receive_script("taproot"), COIN),
                      (sim.receive_script("seized"), 5 * COIN), (sim.receive_script("seized"), COIN // 4)])
    sim.mine()
    sim.pay("miner", [(reused, COIN // 10), (sim.receive_script("cold"), 7 * COIN)])
    sim.mine()
    balances = {name: sim.balance_sat(name) for name in KINDS}
    height = sim.height
    sim.close()
    location = str(folder / "boveda.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("R", name="Test reserve")
        book.add_case(CASE, agency="USMS", court="S.D.N.Y.")
        for name in KINDS:
            owner = {"case": CASE} if name == "seized" else {"reserve": "R"}
            register_wallet(book, name, sim.wallet(name).multipath_descriptor(), network=REGTEST,
                            birth_height=birth, gap_limit=5, **owner)
        with KernelSource(sim.datadir, REGTEST) as kernel, BlockFileSource(sim.datadir, REGTEST, kernel=kernel) as files:
            sync(book.store, files, network=REGTEST)
    return Chain(sim.datadir, location, height, balances)


def boveda(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def embit_roots(name: str) -> list[bip32.HDKey]:
    count = 3 if KINDS[name] is WalletKind.WSH_SORTEDMULTI else 1
    return [bip32.HDKey.from_seed(seed_from_label(f"{LABEL}/{name}/{i}"), version=NETWORKS["test"]["xprv"])
            for i in range(count)]


def prove_unsigned(capsys, chain: Chain, folder: Path, *holding: str, challenge: str = "asked") -> dict:
    code, out, err = boveda(capsys, "--book", chain.book_location, "prove", *(holding or ("--reserve", "R")),
                            "--challenge", challenge, "--psbt-dir", folder / "psbts", "--out",
                            folder / "unsigned.json", "--json")
    assert code == 0, err
    return json.loads(out)


def sign_with_embit(path: Path, wallet: str, cosigners: tuple[int, ...] = (0, 1), out: Path | None = None) -> None:
    psbt = ToSignPSBT.from_base64(path.read_text().strip())
    roots = embit_roots(wallet)
    for position in cosigners[: len(roots)]:
        assert psbt.sign_with(roots[position]) == len(psbt.inputs)  # every input, in one round
    (out or path).write_text(psbt.to_base64())


def chain_facts(chain: Chain, bundle):
    with KernelSource(chain.datadir, REGTEST) as kernel, BlockFileSource(chain.datadir, REGTEST, kernel=kernel) as files:
        return read_chain(bundle, kernel, files)


def test_prove_writes_one_psbt_per_wallet_spending_every_coin_of_the_wallet(chain, tmp_path, capsys):
    written = prove_unsigned(capsys, chain, tmp_path)
    bundle = load_bundle(tmp_path / "unsigned.json")
    assert bundle.version == 2 and not bundle.is_signed
    assert [p["wallet"] for p in written["psbts"]] == list(RESERVE_WALLETS)
    assert sorted(p.name for p in (tmp_path / "psbts").iterdir()) == [f"{w}.psbt" for w in RESERVE_WALLETS]
    assert written["bundle"] == str(tmp_path / "unsigned.json") and written["signed"] is False
    for entry, funds in zip(written["psbts"], bundle.funds_proofs):
        psbt = ToSignPSBT.from_base64(Path(entry["path"]).read_text().strip())
        first = next(a for a in bundle.addresses if a.wallet == funds.wallet)
        assert funds.address == first.address == entry["message_address"]
        to_spend = bip322.to_spend(bundle.expected_message, first.script_pubkey)
        assert bytes(reversed(psbt.inputs[0].txid)) == to_spend.txid and psbt.inputs[0].vout == 0
        coins = [(u.txid_hex, u.vout) for a in bundle.addresses if a.wallet == funds.wallet for u in a.utxos]
        assert [(i.txid.hex(), i.vout) for i in psbt.inputs[1:]] == coins
        assert sum(i.witness_utxo.value for i in psbt.inputs) == chain.balances[funds.wallet]
        assert psbt.tx.version == 0 and {i.sequence for i in psbt.inputs} == {0}
        assert [o.script_pubkey.data for o in psbt.tx.vout] == [bip322.TO_SIGN_SCRIPT_PUBKEY]
    hot = [a for a in bundle.addresses if a.wallet == "hot"]
    assert len(hot) == 3 and max(len(a.utxos) for a in hot) == 2  # 3 addresses, 4 coins: still one PSBT


def test_psbts_signed_by_each_cosigner_apart_finalize_into_a_bundle_that_verifies(chain, tmp_path, capsys):
    prove_unsigned(capsys, chain, tmp_path)
    psbts = tmp_path / "psbts"
    for wallet in RESERVE_WALLETS:
        if wallet == "cold":  # 2-of-3: two cosigners sign copies of their own; finalize joins them
            sign_with_embit(psbts / "cold.psbt", wallet, (0,), out=psbts / "cold-signer-a.psbt")
            sign_with_embit(psbts / "cold.psbt", wallet, (2,), out=psbts / "cold-signer-c.psbt")
        else:
            sign_with_embit(psbts / f"{wallet}.psbt", wallet)
    code, out, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", psbts,
                            "--out", tmp_path / "final.json", "--json")
    assert code == 0, err
    assert json.loads(out)["signed"] is True
    final = load_bundle(tmp_path / "final.json")
    assert final.is_signed and {a.proof_format for a in final.addresses} == {FUNDS_FORMAT}
    assert all(a.proof is None for a in final.addresses) and all(f.proof for f in final.funds_proofs)
    code, out, err = boveda(capsys, "verify", tmp_path / "final.json", "--datadir", chain.datadir, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], report["failures"]
    reserve_sat = sum(chain.balances[w] for w in RESERVE_WALLETS)
    assert report["totals"]["chain_assets_sat"] == reserve_sat == final.assets_sat


def test_one_cosigner_of_two_is_not_enough(chain, tmp_path, capsys):
    prove_unsigned(capsys, chain, tmp_path)
    psbts = tmp_path / "psbts"
    sign_with_embit(psbts / "hot.psbt", "hot")
    sign_with_embit(psbts / "taproot.psbt", "taproot")
    sign_with_embit(psbts / "cold.psbt", "cold", (1,))
    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", psbts,
                          "--out", tmp_path / "final.json")
    assert code == 2 and err.startswith("error: no signed PSBT") and "wallet cold" in err
    assert not (tmp_path / "final.json").exists()


def test_rerunning_prove_into_a_folder_of_psbts_or_over_a_bundle_is_refused(chain, tmp_path, capsys):
    prove_unsigned(capsys, chain, tmp_path, challenge="first")
    sign_with_embit(tmp_path / "psbts" / "hot.psbt", "hot")
    signed = (tmp_path / "psbts" / "hot.psbt").read_text()
    args = ("--book", chain.book_location, "prove", "--reserve", "R", "--challenge", "second")
    code, _, err = boveda(capsys, *args, "--psbt-dir", tmp_path / "psbts", "--out", tmp_path / "other.json")
    assert code == 2 and "already holds PSBTs (cold.psbt and 2 more), which may be signed" in err
    assert not (tmp_path / "other.json").exists()
    code, _, err = boveda(capsys, *args, "--psbt-dir", tmp_path / "fresh", "--out", tmp_path / "unsigned.json")
    assert code == 2 and f"{tmp_path / 'unsigned.json'} exists" in err and "--force" in err
    assert not (tmp_path / "fresh").exists()  # refused before any PSBT was written
    assert (tmp_path / "psbts" / "hot.psbt").read_text() == signed
    code, _, err = boveda(capsys, *args, "--psbt-dir", tmp_path / "psbts", "--out", tmp_path / "unsigned.json",
                          "--force")
    assert code == 0, err
    assert load_bundle(tmp_path / "unsigned.json").challenge == "second"
    assert (tmp_path / "psbts" / "hot.psbt").read_text() != signed


def test_a_custody_holding_is_proved_like_a_reserve(chain, tmp_path, capsys):
    written = prove_unsigned(capsys, chain, tmp_path, "--custody", CASE)
    assert written["custody"] == CASE and written["reserve"] is None
    bundle = load_bundle(tmp_path / "unsigned.json")
    assert f"\ncustody: {CASE}\n" in bundle.expected_message and bundle.assets_sat == chain.balances["seized"]
    sign_with_embit(tmp_path / "psbts" / "seized.psbt", "seized")
    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", tmp_path / "psbts",
                          "--out", tmp_path / "final.json")
    assert code == 0, err
    code, out, err = boveda(capsys, "verify", tmp_path / "final.json", "--datadir", chain.datadir)
    assert code == 0, out + err
    assert f"VERIFIED: custody {CASE} controlled at least {chain.balances['seized']} sat" in out
    code, _, err = boveda(capsys, "--book", chain.book_location, "prove", "--custody", "9:99-cr-1", "--psbt-dir",
                          tmp_path / "x", "--out", tmp_path / "x.json")
    assert code == 2 and "no case '9:99-cr-1'" in err


@pytest.fixture
def signed_bundle(chain, tmp_path, capsys):
    prove_unsigned(capsys, chain, tmp_path)
    for wallet in RESERVE_WALLETS:
        sign_with_embit(tmp_path / "psbts" / f"{wallet}.psbt", wallet)
    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", tmp_path / "psbts",
                          "--out", tmp_path / "final.json")
    assert code == 0, err
    return load_bundle(tmp_path / "final.json")


def test_the_bundle_round_trips_and_a_version_1_reader_form_is_kept(signed_bundle):
    assert parse_bundle_text(signed_bundle.dumps()) == signed_bundle
    document = signed_bundle.to_json()
    with pytest.raises(ProofError, match="custody is not part of bundle version 1"):
        parse_bundle(document | {"version": 1})
    with pytest.raises(ProofError, match=r"addresses\[0\].proof must be null when proof_format is funds"):
        parse_bundle(document | {"addresses": [document["addresses"][0] | {"proof": "AAAA"}]})


def test_a_changed_signature_proves_none_of_the_wallets_coins(chain, signed_bundle):
    facts = chain_facts(chain, signed_bundle)
    assert check(signed_bundle, facts).ok
    cold = next(i for i, f in enumerate(signed_bundle.funds_proofs) if f.wallet == "cold")
    tx = decode_to_sign(signed_bundle.funds_proofs[cold].proof)
    last = tx.inputs[-1]
    witness = list(last.witness)
    witness[1] = witness[1][:10] + bytes([witness[1][10] ^ 1]) + witness[1][11:]
    inputs = tx.inputs[:-1] + (replace(last, witness=tuple(witness)),)
    proof = bip322.encode_full(replace(tx, inputs=inputs))
    funds = signed_bundle.funds_proofs
    changed = funds[:cold] + (replace(funds[cold], proof=proof),) + funds[cold + 1:]
    tampered = replace(signed_bundle, funds_proofs=changed)
    report = check(tampered, facts)
    assert not report.ok and any("proof of funds of wallet cold" in f and "is invalid" in f for f in report.failures)
    assert report.chain_assets_sat == chain.balances["hot"] + chain.balances["taproot"]  # no coin of cold counted


def test_a_coin_the_proof_does_not_spend_is_neither_proved_nor_counted(chain, tmp_path, capsys, signed_bundle):
    hot = next(f for f in signed_bundle.funds_proofs if f.wallet == "hot")
    facts = chain_facts(chain, signed_bundle)
    # the taproot wallet's proof swapped for the hot one: taproot's coins are then spent by no proof
    others = tuple(f for f in signed_bundle.funds_proofs if f.wallet != "taproot")
    report = check(replace(signed_bundle, funds_proofs=others), facts)
    uncovered = [a for a in report.addresses if a.wallet == "taproot"]
    assert uncovered and all(not a.ok and a.proof_label == "invalid" for a in uncovered)
    assert report.chain_assets_sat == chain.balances["hot"] + chain.balances["cold"]
    # the same proof twice counts its coins once
    twice = check(replace(signed_bundle, funds_proofs=signed_bundle.funds_proofs + (hot,)), facts)
    assert twice.ok and twice.chain_assets_sat == sum(chain.balances[w] for w in RESERVE_WALLETS)


def test_a_proof_spending_a_coin_the_bundle_does_not_list_is_invalid(chain, signed_bundle):
    facts = chain_facts(chain, signed_bundle)
    hot_coin = next(a for a in signed_bundle.addresses if a.wallet == "hot").utxos[0]
    addresses = tuple(replace(a, utxos=tuple(u for u in a.utxos if u != hot_coin),
                              balance_sat=a.balance_sat - (hot_coin.value_sat if hot_coin in a.utxos else 0))
                      for a in signed_bundle.addresses)
    trimmed = replace(signed_bundle, addresses=addresses, assets_sat=signed_bundle.assets_sat - hot_coin.value_sat,
                      net_sat=signed_bundle.net_sat - hot_coin.value_sat)
    report = check(trimmed, chain_facts(chain, trimmed))
    assert any("not an unspent coin listed in the bundle" in f for f in report.failures)
    assert report.chain_assets_sat == chain.balances["cold"] + chain.balances["taproot"]
    assert check(signed_bundle, facts).ok


def test_finalize_refuses_a_psbt_that_spends_other_coins(chain, tmp_path, capsys):
    prove_unsigned(capsys, chain, tmp_path)
    path = tmp_path / "psbts" / "hot.psbt"
    psbt = ToSignPSBT.from_base64(path.read_text().strip())
    psbt.inputs.pop()
    psbt.tx  # noqa: B018 - the unsigned tx follows the inputs
    path.write_text(psbt.to_base64())
    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", tmp_path / "psbts",
                          "--out", tmp_path / "final.json")
    assert code == 2 and "hot.psbt spends other coins than the bundle lists for wallet hot" in err


def test_the_version_2_schema_names_the_parser_fields_and_accepts_written_bundles(signed_bundle, tmp_path):
    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "proof-bundle-v2.schema.json").read_text())
    assert tuple(schema["required"]) == bundle_module._TOP_V2 == tuple(schema["properties"])
    assert schema["properties"]["version"]["const"] == bundle_module.FUNDS_VERSION
    assert set(schema["$defs"]["funds_proof"]["required"]) == set(signed_bundle.funds_proofs[0].to_json())
    jsonschema = pytest.importorskip("jsonschema")
    unsigned = load_bundle(tmp_path / "unsigned.json")
    for document in (signed_bundle.to_json(), unsigned.to_json()):
        jsonschema.validate(document, schema)


def test_flipping_any_bit_of_a_proof_of_funds_fails_verification(chain, signed_bundle):
    facts = chain_facts(chain, signed_bundle)
    position = next(i for i, f in enumerate(signed_bundle.funds_proofs) if f.wallet == "taproot")
    raw = base64.b64decode(signed_bundle.funds_proofs[position].proof)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(raw) * 8 - 1))
    def one_flip(bit):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        funds = list(signed_bundle.funds_proofs)
        funds[position] = replace(funds[position], proof=base64.b64encode(bytes(flipped)).decode())
        report = check(replace(signed_bundle, funds_proofs=tuple(funds)), facts)
        assert not report.ok
        assert report.chain_assets_sat <= sum(chain.balances[w] for w in RESERVE_WALLETS if w != "taproot")

    one_flip()
