import numpy as np
import pytest
from sklearn.datasets import load_digits

from hardsample._pool import FINGERPRINT_ROWS, Pool, as_pool
from hardsample._validation import check_samples, fingerprint
from hardsample.generators import PCAGenerator

from .conftest import importorskip_unless_ci


def to_unit(batch):
    return batch.astype(np.float32) / 16.0


@pytest.fixture(scope="module")
def digits_u8():
    return load_digits().images.astype(np.uint8)  # (1797, 8, 8) values 0..16


@pytest.fixture
def memmap(tmp_path, digits_u8):
    path = tmp_path / "pool.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=digits_u8.shape)
    mm[:] = digits_u8
    mm.flush()
    return np.memmap(path, dtype=np.uint8, mode="r", shape=digits_u8.shape)


@pytest.fixture(scope="module")
def generator(digits_u8):
    return PCAGenerator(n_components=4, random_state=0).fit(to_unit(digits_u8))


def test_ndarray_pool_is_check_samples(digits_u8):
    X = digits_u8.astype(np.float64) / 16
    pool = Pool(X)
    expected = check_samples(X)
    assert not pool.lazy and len(pool) == len(X) and pool.sample_shape == (8, 8)
    np.testing.assert_array_equal(pool.take(np.arange(len(X))), expected)
    assert pool.take([3]).dtype == np.float32 and pool.take([3]).flags.c_contiguous
    assert pool.fingerprint().content == fingerprint(expected)
    assert isinstance(pool.samples, np.ndarray) and pool.samples.dtype == np.float32
    with pytest.raises(ValueError, match="NaN"):
        Pool(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def test_memmap_pool_reads_lazily(memmap, digits_u8, generator):
    pool = Pool(memmap, transform=to_unit)
    assert pool.lazy and pool.shape == (1797, 8, 8) and pool.dtype == np.float32
    assert pool.samples is pool
    idx = np.array([1700, 3, 3, -1, 500])
    np.testing.assert_array_equal(pool.take(idx), to_unit(digits_u8[idx]))
    np.testing.assert_array_equal(pool[10:20], to_unit(digits_u8[10:20]))
    np.testing.assert_array_equal(pool[idx], pool.take(idx))
    np.testing.assert_array_equal(pool[7], to_unit(digits_u8[7]))
    starts = [start for start, batch in pool.iter_batches(500)]
    assert starts == [0, 500, 1000, 1500]
    batches = np.concatenate([batch for _, batch in pool.iter_batches(500)])
    np.testing.assert_array_equal(batches, to_unit(digits_u8))
    # Streamed encoding equals encoding the whole array at once.
    codes = pool.encode(generator, batch_size=256)
    np.testing.assert_allclose(codes, generator.transform(to_unit(digits_u8)), atol=1e-5)
    assert codes.dtype == np.float32 and codes.shape == (1797, 4)


def test_memmap_without_transform_is_cast(memmap, digits_u8):
    pool = as_pool(memmap)
    np.testing.assert_array_equal(pool.take([0, 9]), digits_u8[[0, 9]].astype(np.float32))
    assert as_pool(pool) is pool
    with pytest.raises(ValueError, match="already a Pool"):
        as_pool(pool, transform=to_unit)


def _writable(tmp_path, digits_u8, name="fp.u8"):
    mm = np.memmap(tmp_path / name, dtype=np.uint8, mode="w+", shape=digits_u8.shape)
    mm[:] = digits_u8
    return mm


def test_lazy_fingerprint_hashes_every_row_in_order(tmp_path, digits_u8):
    mm = _writable(tmp_path, digits_u8)
    before = Pool(mm, to_unit).fingerprint()
    assert Pool(mm, to_unit).fingerprint() == before
    assert before.change_from(before) is None
    sampled = set(np.linspace(0, len(mm) - 1, FINGERPRINT_ROWS).round().astype(int))
    row = next(r for r in range(1, len(mm)) if r not in sampled)
    mm[row, 3, 3] += 1  # one value, in a row the transform check does not read
    change = Pool(mm, to_unit).fingerprint().change_from(before)
    assert "other values, or the same rows in another order" in change
    mm[row, 3, 3] -= 1
    mm[1:28] = mm[1:28][::-1].copy()  # rows 1-27 reversed
    assert Pool(mm, to_unit).fingerprint().change_from(before).startswith("X holds other values")
    mm[1:28] = mm[1:28][::-1].copy()
    assert Pool(mm, to_unit).fingerprint() == before
    assert "1,796 rows of shape (8, 8) stored as |u1 now, 1,797 rows" in \
        Pool(mm[:-1], to_unit).fingerprint().change_from(before)  # truncated
    assert "transform gives other samples" in \
        Pool(mm, lambda b: b / 8.0).fingerprint().change_from(before)
    assert "older version" in before.change_from("0123abcd")  # a fingerprint saved before
    assert "stored as <f4 now" in Pool(np.asarray(mm, np.float32), to_unit).fingerprint(
    ).change_from(before)


def test_fingerprint_does_not_depend_on_batches(tmp_path, digits_u8, generator, monkeypatch):
    import hardsample._pool as pool_module

    monkeypatch.setattr(pool_module, "HASH_LEAF_BYTES", 64 * 7)  # 7 rows a leaf: many leaves
    mm = _writable(tmp_path, digits_u8)
    expected = Pool(mm, to_unit).fingerprint()
    for batch_size in (1, 5, 7, 500, 4096):
        pool = Pool(mm, to_unit)
        pool.encode(generator, batch_size=batch_size)
        assert pool.fingerprint(reuse_last_pass=True) == expected
        assert Pool(mm, to_unit).validate(batch_size).fingerprint(reuse_last_pass=True) \
            == expected


def test_reuse_last_pass_without_a_pass_reads_the_pool(tmp_path, digits_u8):
    mm = _writable(tmp_path, digits_u8)
    pool = Pool(mm, to_unit)
    assert pool.fingerprint(reuse_last_pass=True) == pool.fingerprint()
    pool.validate()
    mm[5, 0, 0] += 1
    # The recorded pass is returned as is; a fresh fingerprint sees the change.
    assert pool.fingerprint(reuse_last_pass=True) != pool.fingerprint()


def test_fingerprint_of_a_60000_x_784_memmap_is_fast(tmp_path):
    import time

    mm = np.memmap(tmp_path / "big.u8", dtype=np.uint8, mode="w+", shape=(60_000, 28, 28))
    mm[:] = np.random.RandomState(0).randint(0, 256, size=(28, 28), dtype=np.uint8)
    mm.flush()
    pool = Pool(np.memmap(tmp_path / "big.u8", dtype=np.uint8, mode="r",
                          shape=(60_000, 28, 28)), to_unit)
    start = time.process_time()
    pool.fingerprint()
    assert time.process_time() - start < 2.0  # one core's work; measured ~0.1 s


def test_errors(tmp_path):
    strings = np.memmap(tmp_path / "s.dat", dtype="S4", mode="w+", shape=(3, 2))
    with pytest.raises(TypeError, match="dtype"):
        Pool(strings)
    flat = np.memmap(tmp_path / "f.dat", dtype=np.uint8, mode="w+", shape=(10,))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        Pool(flat)
    ok = np.memmap(tmp_path / "o.dat", dtype=np.uint8, mode="w+", shape=(10, 4))
    ok[:] = 1
    with pytest.raises(ValueError, match="transform returned NaN"):
        Pool(ok, transform=lambda b: b * np.inf)  # at construction (first row)
    late = Pool(ok, transform=lambda b: np.where(np.arange(len(b))[:, None] > 1,
                                                 np.nan, b / 2.0))
    with pytest.raises(ValueError, match=r"transform returned NaN .*X\[0:10\]"):
        late.validate(batch_size=16)
    with pytest.raises(ValueError, match="expected 3 samples"):
        Pool(ok, transform=lambda b: b[:1]).take([0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        Pool(ok, transform=lambda b: b.reshape(len(b), -1)[:, :len(b) % 4 + 1]).take([0, 1])
    with pytest.raises(TypeError, match="callable"):
        Pool(ok, transform="scale")
    with pytest.raises(IndexError, match="out of range"):
        Pool(ok).take([10])
    with pytest.raises(TypeError, match="integers"):
        Pool(ok).take([0.5])


def test_dask_pool_and_unknown_chunks(digits_u8, generator):
    da = importorskip_unless_ci("dask.array", reason="dask is not installed (extra 'dask')")
    X = da.from_array(digits_u8, chunks=(400, 8, 8))
    pool = Pool(X, to_unit)
    np.testing.assert_array_equal(pool.take([1796, 2, 401]), to_unit(digits_u8[[1796, 2, 401]]))
    codes = pool.encode(generator, batch_size=300)  # no client: streamed in this process
    np.testing.assert_allclose(codes, generator.transform(to_unit(digits_u8)), atol=1e-5)
    unknown = X[X[:, 0, 0] >= 0]  # boolean indexing: chunk sizes unknown
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        Pool(unknown)


WORKERS_SEEN = set()


def to_unit_recording_worker(batch):
    import distributed

    try:
        WORKERS_SEEN.add(distributed.get_worker().address)
    except ValueError:  # not on a worker: the pool's probe of its first row
        pass
    return to_unit(batch)


class InfiniteCodes:
    def transform(self, X):
        return np.full((len(X), 1), np.inf)


def test_dask_distributed_encoding_on_two_workers(digits_u8, generator, monkeypatch):
    import hardsample._pool as pool_module

    monkeypatch.setattr(pool_module, "HASH_LEAF_BYTES", 64 * 250)  # 250-row leaves
    importorskip_unless_ci("dask.array", reason="dask is not installed (extra 'dask')")
    distributed = importorskip_unless_ci("distributed", reason="dask.distributed is not installed")
    import dask.array as da

    X = da.from_array(digits_u8, chunks=(300, 8, 8))
    WORKERS_SEEN.clear()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pool = Pool(X, to_unit_recording_worker)
        codes = pool.encode(generator)
        assert len(WORKERS_SEEN) == 2  # the 6 blocks were encoded on both workers
        hashed_on_workers = pool.fingerprint(reuse_last_pass=True)
        assert pool.fingerprint() == hashed_on_workers
        with pytest.raises(ValueError, match="NaN or infinite latent codes"):
            Pool(X, to_unit).encode(InfiniteCodes())
        client.cancel(list(client.futures))
    np.testing.assert_allclose(codes, generator.transform(to_unit(digits_u8)), atol=1e-5)
    assert codes.shape == (1797, 4) and codes.dtype == np.float32
    # The leaves hashed in parallel on the workers give the in-process digest.
    assert Pool(X, to_unit).fingerprint().content == hashed_on_workers.content
    assert Pool(digits_u8, to_unit).fingerprint().content == hashed_on_workers.content
