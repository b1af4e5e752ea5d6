"""Offline classification datasets (digits, iris, XOR, MNIST) behind a registry."""

from __future__ import annotations

import dataclasses
import gzip
import os
import zipfile
import zlib

import numpy as np

from wannflax.registry import Registry

DATASETS = Registry("dataset")

# Standard MNIST IDX file stems, keyed by the split array each one fills.
MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
MNIST_SIDE = 28
MNIST_CLASSES = 10
MNIST_MAX_INTENSITY = 255


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A classification dataset already split into train and test sets.

    Attributes:
      name: a short human-readable name, e.g. ``"digits"``.
      x_train: float32 features, shape ``[n_train, d]``.
      y_train: int32 class labels, shape ``[n_train]``.
      x_test: float32 features, shape ``[n_test, d]``.
      y_test: int32 class labels, shape ``[n_test]``.
      num_classes: the number of classes; labels lie in ``[0, num_classes)``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def num_features(self) -> int:
        """The width ``d`` of each feature vector."""
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape}, "
            f"test={self.x_test.shape}, num_classes={self.num_classes})"
        )


def load_dataset(name_or_spec: str, **kwargs) -> Dataset:
    """Loads a registered dataset by name or spec string.

    Args:
      name_or_spec: a registered name (``"digits"``) or a spec with keyword
        arguments (``"mnist(path='/data/mnist', size=16)"``).
      **kwargs: further keyword arguments for the dataset builder; they override
        those in the spec.

    Returns:
      The loaded ``Dataset``.

    Raises:
      UnknownNameError: if the name is not registered; the message lists the
        registered datasets.
    """
    return DATASETS.build(name_or_spec, **kwargs)


def _split_stratified(
    features: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits into train/test keeping class proportions; same seed, same split."""
    # Imported lazily so that merely importing this module stays cheap.
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}.")
    return train_test_split(
        features,
        labels,
        test_size=test_fraction,
        random_state=seed,
        stratify=labels,
    )


@DATASETS.register("digits")
def digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, offline).

    Args:
      test_fraction: the fraction of samples held out as the test set.
      seed: seeds the stratified split; the same seed gives the same split.

    Returns:
      A ``Dataset`` with 64 features in [0, 1] (pixel counts / 16) and 10 classes.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x_train, x_test, y_train, y_test = _split_stratified(
        bunch.data / 16.0, bunch.target, test_fraction, seed
    )
    return Dataset(
        name="digits",
        x_train=x_train.astype(np.float32),
        y_train=y_train.astype(np.int32),
        x_test=x_test.astype(np.float32),
        y_test=y_test.astype(np.int32),
        num_classes=10,
    )


@DATASETS.register("iris")
def iris(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled iris flowers (150 samples, 4 features, offline).

    Features are standardised with the train-set mean and standard deviation
    only, so nothing about the test set leaks into the inputs.

    Args:
      test_fraction: the fraction of samples held out as the test set.
      seed: seeds the stratified split; the same seed gives the same split.

    Returns:
      A ``Dataset`` with 4 standardised features and 3 classes.
    """
    from sklearn.datasets import load_iris

    bunch = load_iris()
    x_train, x_test, y_train, y_test = _split_stratified(
        bunch.data, bunch.target, test_fraction, seed
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    return Dataset(
        name="iris",
        x_train=((x_train - mean) / std).astype(np.float32),
        y_train=y_train.astype(np.int32),
        x_test=((x_test - mean) / std).astype(np.float32),
        y_test=y_test.astype(np.int32),
        num_classes=3,
    )


@DATASETS.register("xor")
def xor() -> Dataset:
    """The four XOR patterns; train and test are the same four points.

    Returns:
      A ``Dataset`` with x in {0, 1}^2, label ``x0 xor x1`` and 2 classes.
    """
    patterns = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 0], dtype=np.int32)
    return Dataset(
        name="xor",
        x_train=patterns,
        y_train=labels,
        x_test=patterns.copy(),
        y_test=labels.copy(),
        num_classes=2,
    )


def area_resample_matrix(source_size: int, target_size: int) -> np.ndarray:
    """The exact area-average resampling matrix from one side length to another.

    Output pixel ``i`` covers the source interval
    ``[i * s / t, (i + 1) * s / t)``; its weight on source pixel ``j`` is the
    overlap of that interval with ``[j, j + 1)``, divided by the interval length.
    An image is resampled as ``R @ image @ R.T``.

    Args:
      source_size: the side length of the source image.
      target_size: the side length of the resampled image.

    Returns:
      A float64 matrix ``R`` of shape ``[target_size, source_size]`` whose rows
      each sum to 1.
    """
    if target_size < 1 or source_size < 1:
        raise ValueError(
            f"Image sizes must be positive, got source_size={source_size}, "
            f"target_size={target_size}."
        )
    # Work in units of 1 / (source * target) so that every boundary is an
    # integer and the overlaps are exact.
    starts = np.arange(target_size)[:, None] * source_size
    ends = starts + source_size
    pixel_starts = np.arange(source_size)[None, :] * target_size
    pixel_ends = pixel_starts + target_size
    overlap = np.clip(
        np.minimum(ends, pixel_ends) - np.maximum(starts, pixel_starts), 0, None
    )
    return overlap / float(source_size)


def area_resample(images: np.ndarray, size: int) -> np.ndarray:
    """Resamples square images by area averaging.

    Args:
      images: float array ``[n, s, s]``.
      size: the side length of the output images.

    Returns:
      A float32 array ``[n, size, size]``.
    """
    source_size = images.shape[-1]
    if size == source_size:
        return images.astype(np.float32)
    resample = area_resample_matrix(source_size, size)
    # Batched matmuls are several times faster than the equivalent einsum here.
    return (resample @ images @ resample.T).astype(np.float32)


def deskew_images(images: np.ndarray, chunk_size: int = 8192) -> np.ndarray:
    """Straightens slanted strokes by a moment-based shear, one image at a time.

    Each image is sheared horizontally by ``alpha = cov(row, col) / var(row)``
    (the slope of its column centroid as a function of row) and re-centred on
    its centre of mass, sampling the source with bilinear interpolation and
    zeros outside. Blank images are returned unchanged.

    Args:
      images: float array ``[n, h, w]`` of non-negative intensities.
      chunk_size: how many images are processed at once, to bound memory.

    Returns:
      A float32 array ``[n, h, w]``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[0] > chunk_size:
        return np.concatenate(
            [
                deskew_images(images[start : start + chunk_size], chunk_size)
                for start in range(0, images.shape[0], chunk_size)
            ]
        )
    _, height, width = images.shape
    rows = np.arange(height, dtype=np.float64)[None, :, None]
    cols = np.arange(width, dtype=np.float64)[None, None, :]
    centre_row, centre_col = height / 2.0, width / 2.0

    mass = images.sum(axis=(1, 2), dtype=np.float64)
    blank = mass <= 0
    # A blank image has no moments; giving it weight 1 avoids 0/0 and it is
    # restored untouched at the end.
    safe_mass = np.where(blank, 1.0, mass)[:, None, None]
    mean_row = (rows * images).sum(axis=(1, 2)) / safe_mass[:, 0, 0]
    mean_col = (cols * images).sum(axis=(1, 2)) / safe_mass[:, 0, 0]
    drow = rows - mean_row[:, None, None]
    dcol = cols - mean_col[:, None, None]
    var_row = (drow**2 * images).sum(axis=(1, 2)) / safe_mass[:, 0, 0]
    cov_row_col = (drow * dcol * images).sum(axis=(1, 2)) / safe_mass[:, 0, 0]
    alpha = np.where(var_row > 0, cov_row_col / np.where(var_row > 0, var_row, 1), 0)

    # Output pixel (r, c) reads the source at the sheared, re-centred point, so
    # the centre of the output lands on the source's centre of mass.
    source_row = np.broadcast_to(
        rows + (mean_row[:, None, None] - centre_row), images.shape
    )
    source_col = (
        cols
        + alpha[:, None, None] * (rows - centre_row)
        + (mean_col[:, None, None] - centre_col)
    )
    deskewed = _bilinear_sample(images, source_row, source_col)
    deskewed[blank] = images[blank]
    return deskewed


def _bilinear_sample(
    images: np.ndarray, source_row: np.ndarray, source_col: np.ndarray
) -> np.ndarray:
    """Samples ``images[n]`` at fractional points, with zeros outside the image."""
    count, height, width = images.shape
    row0 = np.floor(source_row).astype(np.int64)
    col0 = np.floor(source_col).astype(np.int64)
    row_frac = source_row - row0
    col_frac = source_col - col0
    image_index = np.arange(count)[:, None, None]
    result = np.zeros(source_row.shape, dtype=np.float64)
    for row_step, row_weight in ((0, 1 - row_frac), (1, row_frac)):
        for col_step, col_weight in ((0, 1 - col_frac), (1, col_frac)):
            r = row0 + row_step
            c = col0 + col_step
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            values = images[
                image_index, np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)
            ]
            result += np.where(inside, values, 0.0) * row_weight * col_weight
    return result.astype(np.float32)


def read_idx(path: str, expected_magic: int) -> np.ndarray:
    """Reads an unsigned-byte IDX file (MNIST format), gzipped or not.

    Args:
      path: the file; names ending in ``.gz`` are decompressed.
      expected_magic: 2051 for image files, 2049 for label files.

    Returns:
      A uint8 array shaped by the dimensions in the file header.

    Raises:
      ValueError: naming the file, if a ``.gz`` file does not decompress, the
        magic number is wrong or the file is shorter than its header says.
    """
    if path.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as stream:
                content = stream.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise ValueError(
                f"IDX file {path} is not a readable gzip file ({error}); expected "
                "a gzip-compressed MNIST IDX file, or drop the .gz ending if it "
                "is not compressed."
            ) from None
    else:
        with open(path, "rb") as stream:
            content = stream.read()
    num_dims = expected_magic & 0xFF
    header_size = 4 + 4 * num_dims
    if len(content) < 4:
        raise ValueError(f"IDX file {path} is truncated: it has no magic number.")
    magic = int.from_bytes(content[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"IDX file {path} has magic number {magic}, expected {expected_magic} "
            f"({'images' if expected_magic == IDX_IMAGES_MAGIC else 'labels'})."
        )
    if len(content) < header_size:
        raise ValueError(
            f"IDX file {path} is truncated: its header needs {header_size} bytes, "
            f"the file has {len(content)}."
        )
    dims = tuple(int(d) for d in np.frombuffer(content, ">u4", num_dims, offset=4))
    num_values = int(np.prod(dims))
    if len(content) < header_size + num_values:
        raise ValueError(
            f"IDX file {path} is truncated: header dims {dims} need {num_values} "
            f"data bytes, the file has {len(content) - header_size}."
        )
    return np.frombuffer(content, np.uint8, num_values, offset=header_size).reshape(
        dims
    )


def _expected_mnist_files_text() -> str:
    names = ", ".join(MNIST_IDX_FILES.values())
    return (
        "expected a directory holding the MNIST IDX files "
        f"({names}, each optionally ending in .gz) or a .npz file with arrays "
        "x_train, y_train, x_test, y_test"
    )


def _read_mnist_idx_dir(directory: str) -> dict[str, np.ndarray]:
    """Reads the four standard MNIST IDX files from ``directory``."""
    found = {}
    missing = []
    for key, stem in MNIST_IDX_FILES.items():
        candidates = [os.path.join(directory, stem + ext) for ext in ("", ".gz")]
        existing = [c for c in candidates if os.path.isfile(c)]
        if existing:
            found[key] = existing[0]
        else:
            missing.append(" or ".join(candidates))
    if missing:
        raise FileNotFoundError(
            f"MNIST files missing: {'; '.join(missing)} ({_expected_mnist_files_text()})."
        )
    return {
        key: read_idx(
            file, IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC
        )
        for key, file in found.items()
    }


# What a damaged zip archive raises inside np.load: a cut-off or corrupt
# member, or one that is not a numeric array.
_UNREADABLE_NPZ_ERRORS = (ValueError, EOFError, zipfile.BadZipFile, zlib.error)
_NPY_MAGIC = b"\x93NUMPY"


def _read_mnist_npz(path: str) -> dict[str, np.ndarray]:
    """Reads the Keras ``mnist.npz`` layout."""
    with open(path, "rb") as stream:
        is_npy = stream.read(len(_NPY_MAGIC)) == _NPY_MAGIC
    if is_npy:
        raise ValueError(
            f"MNIST file {path} holds a single array (a .npy file), not an .npz "
            f"archive; {_expected_mnist_files_text()}."
        )
    # Checked first: on anything but a zip archive np.load falls back to
    # unpickling and its refusal would suggest allow_pickle.
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"MNIST file {path} is not an .npz archive (it is no zip file); "
            f"{_expected_mnist_files_text()}."
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except _UNREADABLE_NPZ_ERRORS as error:
        raise ValueError(
            f"MNIST file {path} is not a readable .npz archive ({error}); "
            f"{_expected_mnist_files_text()}."
        ) from None
    with archive:
        missing = [key for key in MNIST_IDX_FILES if key not in archive.files]
        if missing:
            raise ValueError(
                f"MNIST npz file {path} lacks arrays {missing}; it has "
                f"{sorted(archive.files)} ({_expected_mnist_files_text()})."
            )
        arrays = {}
        for key in MNIST_IDX_FILES:
            try:
                arrays[key] = np.asarray(archive[key])
            except _UNREADABLE_NPZ_ERRORS as error:
                raise ValueError(
                    f"MNIST npz file {path}: array {key!r} cannot be read "
                    f"({error}); expected a numeric array."
                ) from None
        return arrays


def _as_mnist_images(images: np.ndarray, source: str) -> np.ndarray:
    """Reshapes ``[n, 784]`` or ``[n, 28, 28]`` pixel arrays to ``[n, 28, 28]``."""
    if images.ndim == 2 and images.shape[1] == MNIST_SIDE * MNIST_SIDE:
        images = images.reshape(-1, MNIST_SIDE, MNIST_SIDE)
    if images.ndim != 3 or images.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise ValueError(
            f"MNIST images from {source} have shape {images.shape}; expected "
            f"[n, {MNIST_SIDE}, {MNIST_SIDE}]."
        )
    return images


def _mnist_pixels(images: np.ndarray, source: str, split: str) -> np.ndarray:
    """Raw 0..255 intensities as float32 in [0, 1]; refuses any other range.

    Images already scaled to [0, 1] are refused rather than guessed at:
    divided again they would turn into near-black inputs without a word.
    """
    where = f"MNIST x_{split} in {source}"
    expected = (
        f"expected raw pixel intensities 0..{MNIST_MAX_INTENSITY} (uint8, as in the "
        f"IDX files and Keras mnist.npz), which the loader divides by "
        f"{MNIST_MAX_INTENSITY}"
    )
    if images.dtype.kind not in "iuf":
        raise ValueError(f"{where} has dtype {images.dtype}; {expected}.")
    if images.size == 0:
        return images.astype(np.float32)
    if images.dtype.kind == "f":
        non_finite = int(np.count_nonzero(~np.isfinite(images)))
        if non_finite:
            raise ValueError(
                f"{where} has {non_finite} non-finite pixel values (NaN or inf); "
                f"{expected}."
            )
    low, high = images.min().item(), images.max().item()
    if low < 0 or high > MNIST_MAX_INTENSITY:
        raise ValueError(f"{where} ranges over [{low}, {high}]; {expected}.")
    if 0 < high <= 1:
        raise ValueError(
            f"{where} ranges over [{low}, {high}]: it looks already scaled to "
            f"[0, 1] (or binarised); {expected}. Store the images multiplied by "
            f"{MNIST_MAX_INTENSITY}."
        )
    return images.astype(np.float32) / float(MNIST_MAX_INTENSITY)


def _mnist_labels(labels: np.ndarray, source: str, split: str) -> np.ndarray:
    """Class labels 0..9 as int32; refuses fractions and labels out of range."""
    where = f"MNIST y_{split} in {source}"
    expected = f"expected whole-number class labels 0..{MNIST_CLASSES - 1}"
    if labels.dtype.kind not in "iuf":
        raise ValueError(f"{where} has dtype {labels.dtype}; {expected}.")
    if labels.size == 0:
        return labels.astype(np.int32)
    # Checked before the cast to int32, which would wrap a huge label around.
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
        bad = labels[~np.isfinite(labels) | (labels != np.round(labels))]
        raise ValueError(f"{where} has label {bad[0].item()}; {expected}.")
    low, high = labels.min().item(), labels.max().item()
    if low < 0:
        raise ValueError(f"{where} has label {low}; {expected}.")
    if high >= MNIST_CLASSES:
        raise ValueError(
            f"{where} has labels up to {high}, but MNIST has {MNIST_CLASSES} "
            f"classes (one output each); {expected}."
        )
    return labels.astype(np.int32)


@DATASETS.register("mnist")
def mnist(path: str, size: int = 16, deskew: bool = False) -> Dataset:
    """MNIST read from local files (never downloaded).

    Args:
      path: a directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``), or a ``.npz`` file
        with arrays ``x_train, y_train, x_test, y_test`` (Keras layout).
        Pixels must be raw intensities 0..255 (any integer or float dtype)
        and labels whole numbers 0..9.
      size: the side length of the returned images; 28 keeps them, 16 is the
        WANN paper's setting, any other positive size is area-resampled too.
      deskew: whether to straighten each image by its second moments before
        resampling.

    Returns:
      A ``Dataset`` with ``size * size`` features in [0, 1] (intensities / 255)
      and 10 classes.

    Raises:
      FileNotFoundError: naming the missing path(s) and the expected files.
      ValueError: naming the file, on a malformed one (not a readable .gz or
        .npz, bad magic number, truncated, bad shape), pixels outside 0..255
        or already scaled to [0, 1] (naming the observed range), or labels
        that are not whole numbers 0..9 (naming the largest).
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"MNIST size must be a positive int, got {size!r}.")
    path = os.fspath(path)
    if os.path.isdir(path):
        arrays = _read_mnist_idx_dir(path)
    elif os.path.isfile(path):
        arrays = _read_mnist_npz(path)
    else:
        raise FileNotFoundError(
            f"MNIST path {path} does not exist ({_expected_mnist_files_text()})."
        )

    splits = {}
    for split in ("train", "test"):
        images = _as_mnist_images(arrays[f"x_{split}"], path)
        labels = np.asarray(arrays[f"y_{split}"]).reshape(-1)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"MNIST {split} split in {path} has {images.shape[0]} images but "
                f"{labels.shape[0]} labels."
            )
        pixels = _mnist_pixels(images, path, split)
        if deskew:
            pixels = deskew_images(pixels)
        pixels = area_resample(pixels, int(size))
        splits[f"x_{split}"] = pixels.reshape(pixels.shape[0], -1)
        splits[f"y_{split}"] = _mnist_labels(labels, path, split)
    return Dataset(name="mnist", num_classes=10, **splits)
