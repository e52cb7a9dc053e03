"""`boveda verify --rpc` against a running bitcoind: a bundle passes whether its coins are unspent now or were
spent since, every mutation that fails the datadir route fails it too with the same failures, and the
datadir route leaves the node's files exactly as they were."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace

import pytest
from _bitcoind import bitcoind_factory  # noqa: F401
from _following import invoke, one_line_error, run_boveda
from _reserve_chain import LABEL, P2WSH_TRUE_ADDRESS, RESERVE, build_reserve_chain

from boveda.bitcoin import bip322
from boveda.book import Book
from boveda.chain.rpc import RpcSource
from boveda.proofs.bundle import ProofBundle, parse_bundle, write_bundle
from boveda.proofs.live import verify_live
from boveda.proofs.prove import prove
from boveda.proofs.software_signer import SeedSigner
from boveda.proofs.verify import verify_bundle


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_reserve_chain(tmp_path_factory.mktemp("verify"))


@pytest.fixture(scope="module")
def bundle(chain) -> ProofBundle:
    with Book.open(chain.book_location) as book:
        return prove(book, RESERVE, SeedSigner.for_reserve(book, RESERVE, LABEL), height=chain.tip_height,
                     challenge="asked by a journalist")


@pytest.fixture
def node(bitcoind_factory, chain, tmp_path):  # noqa: F811
    """A node on the chain, where a coin of the bundle was spent after its height, three blocks deep."""
    node = bitcoind_factory(chain.copy_datadir(tmp_path / "node"))
    node.cli("sendrawtransaction", chain.spend("hot").serialize().hex())
    node.cli("generatetoaddress", 3, P2WSH_TRUE_ADDRESS)
    return node


def _flip(value, bit: int):
    if isinstance(value, int):
        return value ^ (1 << bit)
    raw = bytearray(bip322._decode_base64(value)) if "=" in value or "+" in value or "/" in value else None
    if raw is not None:
        raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
        return bip322._base64(bytes(raw))
    raw = bytearray(bytes.fromhex(value))
    raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
    return raw.hex()


def mutated(bundle: ProofBundle, path: tuple, bit: int = 0) -> ProofBundle:
    document = copy.deepcopy(bundle.to_json())
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = _flip(parent[path[-1]], bit)
    return parse_bundle(document)


def mutations(bundle: ProofBundle) -> dict[str, ProofBundle]:
    first, second = bundle.addresses[0], bundle.addresses[1]
    fewer = replace(first, utxos=first.utxos[1:])
    return {
        "a proof's bit": mutated(bundle, ("addresses", 0, "proof"), 77),
        "a balance's bit": mutated(bundle, ("addresses", 1, "balance_sat"), 3),
        "a coin's value": mutated(bundle, ("addresses", 0, "utxos", 0, "value_sat"), 2),
        "a coin's height": mutated(bundle, ("addresses", 0, "utxos", 0, "height"), 0),
        "a coin's txid": mutated(bundle, ("addresses", 0, "utxos", 0, "txid"), 9),
        "the height": mutated(bundle, ("height",), 1),
        "a height above the tip": mutated(bundle, ("height",), 9),
        "the block hash": mutated(bundle, ("block_hash",), 13),
        "the challenge": replace(bundle, challenge="another"),
        "the message": replace(bundle, message=bundle.message.replace("journalist", "auditor")),
        "a coin left out": replace(bundle, addresses=(fewer,) + bundle.addresses[1:]),
        "the net total": replace(bundle, net_sat=bundle.net_sat + 1),
        "a proof moved": replace(bundle, addresses=(replace(first, proof=second.proof), second)
                                 + bundle.addresses[2:]),
    }


def test_a_bundle_verifies_live_with_coins_unspent_and_coins_spent_since(chain, bundle, node):
    assert len(bundle.addresses) >= 3 and len({a.wallet for a in bundle.addresses}) == 2
    with RpcSource.from_url(node.rpc_url, bundle.network) as source:
        report = verify_live(bundle, source)
        assert report.ok, report.failures
        assert report.chain_assets_sat == bundle.assets_sat
        assert source.contains(bytes.fromhex(bundle.block_hash_hex)[::-1])


def test_every_mutation_that_fails_the_datadir_route_fails_live_with_the_same_failures(chain, bundle, node):
    with RpcSource.from_url(node.rpc_url, bundle.network) as source:
        live = {name: verify_live(changed, source) for name, changed in mutations(bundle).items()}
    node.stop()
    for name, changed in mutations(bundle).items():
        on_files = verify_bundle(changed, node.datadir)
        assert not on_files.ok and not live[name].ok, name
        if name in ("a coin left out", "a coin's txid"):
            # The coin the bundle no longer lists is found by the datadir route only (the live route checks
            # the listed coins, not the script's others): the failure naming what was changed is in both.
            named = "is not the sum of its listed coins" if name == "a coin left out" else "is not an unspent output"
            (failure,) = [f for f in on_files.failures if named in f]
            assert failure in live[name].failures, (name, live[name].failures)
        else:
            assert live[name].failures == on_files.failures, name


def test_the_datadir_route_writes_nothing_to_the_node_s_files(chain, bundle, node, tmp_path):
    node.stop()
    write_bundle(bundle, tmp_path / "proof.json")

    def snapshot():
        return {str(p.relative_to(node.datadir)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
                for p in sorted(node.datadir.rglob("*")) if p.is_file()}

    before = snapshot()
    result = run_boveda("verify", "proof.json", "--datadir", str(node.datadir), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read-only" in result.stdout and "VERIFIED" in result.stdout
    assert snapshot() == before


def test_a_journalist_verifies_from_the_command_line_against_the_live_node(chain, bundle, node, tmp_path):
    write_bundle(bundle, tmp_path / "proof.json")
    result = invoke("verify", "proof.json", "--rpc-url", node.rpc_url, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True and "route" not in document  # the bundle report's form is unchanged
    assert result.stderr.startswith("chain read from live: Bitcoin Core RPC at http://127.0.0.1:")
    assert node.rpc_password not in result.stdout + result.stderr
    write_bundle(mutated(bundle, ("addresses", 0, "balance_sat"), 0), tmp_path / "tampered.json")
    failed = invoke("verify", "tampered.json", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    other = invoke("verify", "proof.json", "--rpc-url", node.rpc_url, "--network", "main", cwd=tmp_path)
    assert "is a regtest proof, not main" in one_line_error(other, node.rpc_password)
    node.stop()
    down = invoke("verify", "proof.json", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert "no Bitcoin Core answers" in one_line_error(down, node.rpc_password)
