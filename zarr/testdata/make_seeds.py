# Writes the fuzz seeds in this directory with zarr-python 2.x and
# numcodecs: small .zarray documents and chunks of the codecs npw reads.
# Run from this directory with /usr/bin/python3 make_seeds.py; the files
# are committed, so the fuzz targets need no Python.
import os, shutil
import numpy as np, zarr
from numcodecs import Blosc

rng = np.random.default_rng(7)
data = np.round(rng.standard_normal((8, 8)) * 4, 1)
data[:, :4] = np.arange(32).reshape(8, 4)
cases = {
    "lz4": dict(dtype="<f8"),
    "none": dict(dtype="<f8", compressor=None),
    "lz4hc_bit": dict(dtype="<f8", compressor=Blosc("lz4hc", 9, Blosc.BITSHUFFLE)),
    "blosclz": dict(dtype="<f8", compressor=Blosc("blosclz", 5, Blosc.SHUFFLE)),
    "noshuffle": dict(dtype="<f8", compressor=Blosc("lz4", 5, Blosc.NOSHUFFLE)),
    "i4": dict(dtype=">i4", fill_value=-1),
    "u1": dict(dtype="|u1", compressor=Blosc("lz4", 1, Blosc.AUTOSHUFFLE)),
}
for name, kw in cases.items():
    shutil.rmtree(name, ignore_errors=True)
    a = zarr.open(name + ".zarr", mode="w", shape=(8, 8), chunks=(8, 8), **kw)
    if name == "blosclz":  # blosclz gives up on data this small unless repetitive
        a[:] = np.arange(64).reshape(8, 8) % 3
    else:
        a[:] = np.abs(data) if kw["dtype"] == "|u1" else data
    os.replace(name + ".zarr/.zarray", name + ".zarray")
    os.replace(name + ".zarr/0.0", name + ".chunk")
    shutil.rmtree(name + ".zarr")
