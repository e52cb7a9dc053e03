"""KernelSource and the builder's core, against chains grown through libbitcoinkernel."""

import subprocess
import sys

import pytest

from boveda.bitcoin.network import Network
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import RegtestBuilder, block_subsidy_sat
from boveda.errors import BuilderError, ChainError

ANYONE_CAN_SPEND = bytes.fromhex("51")


@pytest.fixture
def small_chain(tmp_path):
    hashes = []
    with RegtestBuilder(tmp_path) as builder:
        hashes.append(builder.tip.hash)
        for _ in range(5):
            hashes.append(builder.mine(coinbase_script=ANYONE_CAN_SPEND).hash)
    return tmp_path, hashes


def test_source_reports_what_the_builder_built(small_chain):
    datadir, hashes = small_chain
    with KernelSource(datadir, Network.REGTEST) as source:
        assert source.tip().height == 5
        assert source.tip().hash == hashes[-1]
        assert [source.hash_at(h) for h in range(6)] == hashes
        blocks = list(source.blocks(1, 5))
        assert [b.height for b in blocks] == [1, 2, 3, 4, 5]
        assert [b.hash for b in blocks] == hashes[1:]
        assert all(b.block.transactions[0].outputs[0].value_sat == block_subsidy_sat(b.height) for b in blocks)
        assert source.contains(hashes[3]) and not source.contains(bytes(32))
        with pytest.raises(ChainError, match="outside the active chain"):
            source.hash_at(6)


def test_genesis_is_regtest_genesis(small_chain):
    datadir, hashes = small_chain
    assert hashes[0][::-1].hex() == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_a_block_the_kernel_accepts_but_does_not_connect_is_refused(small_chain):
    datadir, hashes = small_chain
    with RegtestBuilder(datadir) as builder:
        overpaying = builder.assemble(coinbase_script=ANYONE_CAN_SPEND, fees_sat=1)
        with pytest.raises(BuilderError, match="bad-cb-amount"):
            builder.submit(overpaying)
        assert builder.tip.hash == hashes[-1]


def test_missing_datadir_is_named(tmp_path):
    with pytest.raises(ChainError, match="no data directory at"):
        KernelSource(tmp_path / "nope", Network.REGTEST)


def test_wrong_network_says_which_networks_are_there(small_chain):
    datadir, _ = small_chain
    with pytest.raises(ChainError, match="no signet block data .* holds regtest data"):
        KernelSource(datadir, Network.SIGNET)


def test_folder_without_block_data_is_refused_and_left_untouched(tmp_path):
    with pytest.raises(ChainError, match="no regtest block data"):
        KernelSource(tmp_path, Network.REGTEST)
    assert list(tmp_path.iterdir()) == []


def test_datadir_locked_by_another_process_gets_a_clear_error(small_chain):
    datadir, _ = small_chain
    # bitcoind holds a POSIX lock on <datadir>/regtest/.lock while it runs; so does this child.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT); "
         "fcntl.lockf(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(datadir / "regtest" / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ChainError, match="in use by a running bitcoind.*stop the node, or point --datadir at a copy"):
            KernelSource(datadir, Network.REGTEST)
    finally:
        holder.kill()
        holder.wait()
    with KernelSource(datadir, Network.REGTEST) as source:
        assert source.tip().height == 5


def test_second_open_in_one_process_is_refused_and_first_keeps_working(small_chain):
    datadir, hashes = small_chain
    with KernelSource(datadir, Network.REGTEST) as first:
        with pytest.raises(ChainError, match="in use"):
            KernelSource(datadir, Network.REGTEST)
        assert first.hash_at(2) == hashes[2]
