"""Specification of wannflax.datasets: bundled datasets and the offline MNIST reader."""

import dataclasses
import gzip
import os

import numpy as np
import pytest

from wannflax import datasets
from wannflax.registry import UnknownNameError

MNIST_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """Encodes a uint8 array as an IDX file: magic, big-endian dims, raw bytes."""
    header = magic.to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.asarray(array, np.uint8).tobytes()


def write_idx(path, array: np.ndarray, magic: int, compress: bool) -> None:
    content = idx_bytes(array, magic)
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as stream:
            stream.write(content)
    else:
        with open(path, "wb") as stream:
            stream.write(content)


def fake_mnist_arrays() -> dict:
    """Three training and two test images with exactly known down-sampled values."""
    full = np.full((28, 28), 255, np.uint8)
    left_half = np.zeros((28, 28), np.uint8)
    left_half[:, :14] = 255
    corner = np.zeros((28, 28), np.uint8)
    corner[0, 0] = 255
    blank = np.zeros((28, 28), np.uint8)
    top_half = left_half.T.copy()
    return {
        "x_train": np.stack([full, left_half, corner]),
        "y_train": np.array([7, 0, 9], np.uint8),
        "x_test": np.stack([blank, top_half]),
        "y_test": np.array([3, 1], np.uint8),
    }


def write_fake_mnist_dir(directory, compress_pattern=(False, False, False, False)):
    arrays = fake_mnist_arrays()
    for (key, stem), compress in zip(
        MNIST_STEMS.items(), compress_pattern, strict=True
    ):
        magic = 2051 if key.startswith("x") else 2049
        write_idx(directory / stem, arrays[key], magic, compress)
    return directory


# --- registry -------------------------------------------------------------


def test_registered_dataset_names():
    assert datasets.DATASETS.names() == ["digits", "iris", "mnist", "xor"]


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UnknownNameError, match="digits, iris, mnist, xor"):
        datasets.load_dataset("cifar")


def test_dataset_is_frozen():
    dataset = datasets.xor()
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.num_classes = 3


# --- xor ------------------------------------------------------------------


def test_xor_is_the_four_patterns_in_both_splits():
    dataset = datasets.load_dataset("xor")
    patterns = [[0, 0], [0, 1], [1, 0], [1, 1]]
    np.testing.assert_array_equal(dataset.x_train, patterns)
    np.testing.assert_array_equal(dataset.y_train, [0, 1, 1, 0])
    np.testing.assert_array_equal(dataset.x_test, patterns)
    np.testing.assert_array_equal(dataset.y_test, [0, 1, 1, 0])
    assert dataset.x_train.dtype == np.float32
    assert dataset.y_train.dtype == np.int32
    assert dataset.num_classes == 2
    assert dataset.num_features == 2


# --- digits ---------------------------------------------------------------


def test_digits_shapes_dtypes_and_range():
    dataset = datasets.load_dataset("digits")
    assert dataset.name == "digits"
    assert dataset.x_train.shape == (1437, 64)
    assert dataset.y_train.shape == (1437,)
    assert dataset.x_test.shape == (360, 64)
    assert dataset.y_test.shape == (360,)
    assert dataset.x_train.dtype == np.float32
    assert dataset.y_train.dtype == np.int32
    assert dataset.num_classes == 10
    all_x = np.concatenate([dataset.x_train, dataset.x_test])
    assert all_x.min() == 0.0
    assert all_x.max() == 1.0
    # Raw digit pixels are counts 0..16, so scaled values are multiples of 1/16.
    np.testing.assert_array_equal(all_x * 16, np.round(all_x * 16))


def test_digits_split_is_deterministic_per_seed():
    first = datasets.digits(seed=0)
    second = datasets.digits(seed=0)
    other = datasets.digits(seed=1)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert not np.array_equal(first.x_train, other.x_train)


def test_digits_split_is_stratified():
    dataset = datasets.digits(test_fraction=0.2)
    class_counts = np.bincount(
        np.concatenate([dataset.y_train, dataset.y_test]), minlength=10
    )
    test_counts = np.bincount(dataset.y_test, minlength=10)
    # Each class holds its 20% share of the test set, up to rounding.
    assert np.all(np.abs(test_counts - 0.2 * class_counts) < 1)


def test_digits_test_fraction_sets_the_split_size():
    dataset = datasets.load_dataset("digits(test_fraction=0.5)")
    assert dataset.x_train.shape[0] + dataset.x_test.shape[0] == 1797
    assert dataset.x_test.shape[0] == 899


def test_bad_test_fraction_is_rejected():
    with pytest.raises(ValueError, match="test_fraction must lie in"):
        datasets.digits(test_fraction=1.5)


# --- iris -----------------------------------------------------------------


def test_iris_is_standardised_with_train_statistics():
    dataset = datasets.load_dataset("iris")
    assert dataset.x_train.shape == (120, 4)
    assert dataset.x_test.shape == (30, 4)
    assert dataset.num_classes == 3
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.bincount(dataset.y_test), [10, 10, 10])


# --- area resampling ------------------------------------------------------


def test_area_resample_matrix_28_to_16_rows_are_exact_overlaps():
    resample = datasets.area_resample_matrix(28, 16)
    assert resample.shape == (16, 28)
    np.testing.assert_allclose(resample.sum(axis=1), np.ones(16), atol=1e-12)
    # Output pixel 0 covers source [0, 1.75): all of pixel 0, 3/4 of pixel 1.
    np.testing.assert_allclose(resample[0, :3], [4 / 7, 3 / 7, 0.0])
    # Output pixel 1 covers [1.75, 3.5): 1/4 of pixel 1, pixel 2, 1/2 of pixel 3.
    np.testing.assert_allclose(resample[1, :5], [0.0, 1 / 7, 4 / 7, 2 / 7, 0.0])


def test_area_resample_matrix_same_size_is_identity():
    np.testing.assert_array_equal(datasets.area_resample_matrix(28, 28), np.eye(28))


def test_area_resample_of_2x2_blocks_to_half_size_recovers_the_blocks():
    blocks = np.arange(14 * 14, dtype=np.float32).reshape(14, 14)
    image = np.kron(blocks, np.ones((2, 2), np.float32))
    np.testing.assert_allclose(datasets.area_resample(image[None], 14)[0], blocks)


# --- deskew ---------------------------------------------------------------


def image_moments(image):
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
    mass = image.sum()
    mean_row = (rows * image).sum() / mass
    mean_col = (cols * image).sum() / mass
    var_col = ((cols - mean_col) ** 2 * image).sum() / mass
    cov = ((rows - mean_row) * (cols - mean_col) * image).sum() / mass
    return mean_row, mean_col, var_col, cov


def test_deskew_leaves_an_upright_centred_stroke_unchanged():
    image = np.zeros((28, 28), np.float32)
    image[4:25, 14] = 1.0  # centre of mass exactly at (14, 14)
    np.testing.assert_array_equal(datasets.deskew_images(image[None])[0], image)


def test_deskew_straightens_a_slanted_stroke_and_centres_it():
    image = np.zeros((28, 28), np.float32)
    for row in range(4, 25):
        image[row, 8 + (row - 4) // 2] = 1.0
    _, _, var_col_before, cov_before = image_moments(image)
    assert cov_before == pytest.approx(18.333333, abs=1e-5)
    assert var_col_before == pytest.approx(9.229025, abs=1e-5)

    straightened = datasets.deskew_images(image[None])[0]
    mean_row, mean_col, var_col, cov = image_moments(straightened)
    assert cov == pytest.approx(0.0, abs=1e-5)
    assert var_col < 0.3
    assert (mean_row, mean_col) == pytest.approx((14.0, 14.0), abs=1e-5)
    assert straightened.sum() == pytest.approx(image.sum(), abs=1e-4)


def test_deskew_keeps_blank_images_blank():
    blank = np.zeros((2, 28, 28), np.float32)
    np.testing.assert_array_equal(datasets.deskew_images(blank), blank)


# --- mnist ----------------------------------------------------------------


def expected_16x16_train_images():
    ones = np.ones((16, 16), np.float32)
    left_half = np.zeros((16, 16), np.float32)
    left_half[:, :8] = 1.0  # 8 output columns cover exactly source [0, 14)
    corner = np.zeros((16, 16), np.float32)
    corner[0, 0] = (4 / 7) ** 2
    return np.stack([ones, left_half, corner]).reshape(3, 256)


@pytest.mark.parametrize(
    "compress_pattern",
    [
        (False, False, False, False),
        (True, True, True, True),
        (True, False, True, False),
    ],
)
def test_mnist_reads_idx_files_and_downsamples_to_16(tmp_path, compress_pattern):
    write_fake_mnist_dir(tmp_path, compress_pattern)
    dataset = datasets.mnist(str(tmp_path))
    assert dataset.name == "mnist"
    assert dataset.num_classes == 10
    assert dataset.x_train.shape == (3, 256)
    assert dataset.x_test.shape == (2, 256)
    assert dataset.x_train.dtype == np.float32
    assert dataset.y_train.dtype == np.int32
    np.testing.assert_allclose(
        dataset.x_train, expected_16x16_train_images(), atol=1e-6
    )
    top_half = np.zeros((16, 16), np.float32)
    top_half[:8] = 1.0
    np.testing.assert_allclose(dataset.x_test[1], top_half.reshape(256), atol=1e-6)
    np.testing.assert_array_equal(dataset.x_test[0], np.zeros(256))
    np.testing.assert_array_equal(dataset.y_train, [7, 0, 9])
    np.testing.assert_array_equal(dataset.y_test, [3, 1])


def test_mnist_size_28_keeps_the_pixels_divided_by_255(tmp_path):
    write_fake_mnist_dir(tmp_path)
    dataset = datasets.load_dataset(f"mnist(path={str(tmp_path)!r}, size=28)")
    assert dataset.x_train.shape == (3, 784)
    expected = fake_mnist_arrays()["x_train"].reshape(3, 784) / 255.0
    np.testing.assert_array_equal(dataset.x_train, expected.astype(np.float32))


def test_mnist_reads_the_keras_npz_layout(tmp_path):
    blocks = (np.arange(14 * 14) % 256).astype(np.uint8).reshape(14, 14)
    image = np.kron(blocks, np.ones((2, 2), np.uint8))
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=np.stack([image, image]),
        y_train=np.array([4, 5], np.uint8),
        x_test=image[None],
        y_test=np.array([6], np.uint8),
    )
    dataset = datasets.load_dataset("mnist", path=str(path), size=14)
    assert dataset.x_train.shape == (2, 196)
    assert dataset.x_test.shape == (1, 196)
    np.testing.assert_allclose(
        dataset.x_test[0], blocks.reshape(196) / 255.0, atol=1e-6
    )
    np.testing.assert_array_equal(dataset.y_train, [4, 5])
    np.testing.assert_array_equal(dataset.y_test, [6])


def test_mnist_npz_missing_arrays_are_named(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(
        ValueError, match=r"lacks arrays \['y_train', 'x_test', 'y_test'\]"
    ):
        datasets.mnist(str(path))


def test_mnist_deskew_runs_before_downsampling(tmp_path):
    write_fake_mnist_dir(tmp_path)
    plain = datasets.mnist(str(tmp_path), size=28)
    deskewed = datasets.mnist(str(tmp_path), size=28, deskew=True)
    assert deskewed.x_train.shape == (3, 784)
    # The blank test image has no moments and stays blank.
    np.testing.assert_array_equal(deskewed.x_test[0], plain.x_test[0])
    expected = datasets.deskew_images(plain.x_train.reshape(3, 28, 28))
    np.testing.assert_allclose(deskewed.x_train, expected.reshape(3, 784))


def test_mnist_missing_path_names_it_and_the_expected_files(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*train-images-idx3-ubyte"):
        datasets.mnist(str(missing))


def test_mnist_missing_file_is_named(tmp_path):
    write_fake_mnist_dir(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(
        FileNotFoundError, match="missing: .*t10k-labels-idx1-ubyte"
    ) as err:
        datasets.mnist(str(tmp_path))
    assert "train-images" not in str(err.value).split("(expected")[0]


def test_mnist_bad_magic_number_names_the_file(tmp_path):
    write_fake_mnist_dir(tmp_path)
    labels = fake_mnist_arrays()["y_train"]
    # A label file put where the training images belong.
    write_idx(tmp_path / "train-images-idx3-ubyte", labels, 2049, compress=False)
    with pytest.raises(
        ValueError,
        match="train-images-idx3-ubyte has magic number 2049, expected 2051",
    ):
        datasets.mnist(str(tmp_path))


def test_mnist_truncated_file_names_the_file(tmp_path):
    write_fake_mnist_dir(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    content = path.read_bytes()
    path.write_bytes(content[:-10])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte is truncated"):
        datasets.mnist(str(tmp_path))


def test_mnist_truncated_header_is_reported(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8), 2049)[:6])
    with pytest.raises(ValueError, match="labels is truncated: its header needs 8"):
        datasets.read_idx(str(path), 2049)


def test_mnist_rejects_a_non_positive_size(tmp_path):
    write_fake_mnist_dir(tmp_path)
    with pytest.raises(ValueError, match="size must be a positive int, got 0"):
        datasets.mnist(str(tmp_path), size=0)


# --- MNIST: pixel range, labels and unreadable files ----------------------------


def write_mnist_npz(path, **replaced):
    """The fake MNIST arrays as a Keras-layout npz, some arrays replaced."""
    arrays = {**fake_mnist_arrays(), **replaced}
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "images, observed",
    [
        # Already scaled to [0, 1]: dividing again by 255 would give near-black
        # inputs, the loader's [0, 1] promise kept in name only.
        (fake_mnist_arrays()["x_train"] / 255.0, r"\[0.0, 1.0\]: it looks already"),
        # Signed images (e.g. centred on zero).
        (fake_mnist_arrays()["x_train"].astype(np.int16) - 128, r"\[-128, 127\]"),
        # Intensities on another scale (16 bits).
        (fake_mnist_arrays()["x_train"].astype(np.int32) * 257, r"\[0, 65535\]"),
    ],
)
def test_mnist_pixels_outside_0_to_255_are_refused_naming_the_observed_range(
    tmp_path, images, observed
):
    path = write_mnist_npz(tmp_path / "mnist.npz", x_train=images)
    with pytest.raises(
        ValueError, match=rf"MNIST x_train in .*mnist.npz ranges over {observed}"
    ) as raised:
        datasets.mnist(path, size=28)
    assert "expected raw pixel intensities 0..255" in str(raised.value)


def test_mnist_float_pixels_on_the_0_to_255_scale_are_divided_by_255(tmp_path):
    images = fake_mnist_arrays()["x_train"].astype(np.float64)
    path = write_mnist_npz(tmp_path / "mnist.npz", x_train=images)
    dataset = datasets.mnist(path, size=28)
    expected = fake_mnist_arrays()["x_train"].reshape(3, 784) / 255.0
    np.testing.assert_array_equal(dataset.x_train, expected.astype(np.float32))
    assert dataset.x_train.min() == 0.0 and dataset.x_train.max() == 1.0


def test_mnist_non_finite_pixels_are_refused(tmp_path):
    images = fake_mnist_arrays()["x_test"].astype(np.float32)
    images[1, 3, 4] = np.nan
    path = write_mnist_npz(tmp_path / "mnist.npz", x_test=images)
    with pytest.raises(ValueError, match="x_test in .* has 1 non-finite pixel"):
        datasets.mnist(path)


@pytest.mark.parametrize(
    "labels, message",
    [
        # int32 would wrap 2**32 + 3 around to the valid label 3.
        (np.array([7, 2**32 + 3, 9]), "has labels up to 4294967299, but MNIST has 10"),
        (np.array([7, 10**9, 9]), "has labels up to 1000000000, but MNIST has 10"),
        (np.array([7, -1, 9]), "has label -1; expected whole-number class labels"),
        # int32 would cut 3.7 down to 3.
        (np.array([7.0, 3.7, 9.0]), "has label 3.7"),
    ],
)
def test_mnist_labels_must_be_whole_numbers_0_to_9(tmp_path, labels, message):
    path = write_mnist_npz(tmp_path / "mnist.npz", y_train=labels)
    with pytest.raises(ValueError, match=f"MNIST y_train in .*mnist.npz {message}"):
        datasets.mnist(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"these bytes are no zip archive" * 8, b"PK\x03\x04 cut short"],
    ids=["empty", "text", "zip header cut short"],
)
def test_a_garbage_npz_file_names_the_file_and_what_was_expected(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        datasets.mnist(str(path))
    message = str(raised.value)
    assert f"MNIST file {path} is not an .npz archive" in message
    assert "a .npz file with arrays x_train, y_train, x_test, y_test" in message
    # numpy's own hint would suggest unpickling an untrusted file.
    assert "allow_pickle" not in message


def test_a_npy_file_given_as_the_mnist_path_is_named(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="images.npy holds a single array"):
        datasets.mnist(str(path))


def test_a_corrupt_array_inside_the_npz_is_named(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, **fake_mnist_arrays())
    content = bytearray(path.read_bytes())
    # Flip bytes inside the first member's compressed data (after its header).
    for index in range(80, 120):
        content[index] ^= 0x55
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="mnist.npz: array 'x_train' cannot be read"):
        datasets.mnist(str(path))


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",
        gzip.compress(idx_bytes(np.zeros(3, np.uint8), 2049))[:-6],
    ],
    ids=["no gzip header", "cut short"],
)
def test_a_garbage_gz_file_names_the_file_and_what_was_expected(tmp_path, content):
    write_fake_mnist_dir(tmp_path, compress_pattern=(False, True, False, False))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        datasets.mnist(str(tmp_path))
    message = str(raised.value)
    assert f"IDX file {path} is not a readable gzip file" in message
    assert "expected a gzip-compressed MNIST IDX file" in message
