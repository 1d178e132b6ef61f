"""Makes the small TIFF fixtures ImagingTests reads as files "written by another tool".

Run from this folder:  pip install tifffile numpy && python3 make_fixtures.py
(tifffile and numpy versions used are printed and recorded in README.md.)
"""
import numpy as np
import tifffile

# Pixel values are a formula of (t, c, z, y, x) so the Swift test can check every frame it reads.
def ramp(t, y, x, c=0, z=0):
    return 1000 * t + 100 * c + 10 * z + 3 * y + x

T, Y, X = 4, 5, 6
t, y, x = np.meshgrid(np.arange(T), np.arange(Y), np.arange(X), indexing="ij")

# 1. ImageJ hyperstack, uint16, TZCYX = 4x3x2x5x6 (slice and channel axes present; ImageJ order), with
#    calibration: pixel 0.0347 um, frame interval 2.5 s.
tt, cc, zz, yy, xx = np.meshgrid(np.arange(T), np.arange(2), np.arange(3), np.arange(Y), np.arange(X),
                                 indexing="ij")
hyper = ramp(tt, yy, xx, cc, zz).astype(np.uint16).transpose(0, 2, 1, 3, 4)  # to TZCYX
tifffile.imwrite("imagej_hyperstack_u16.tif", hyper, imagej=True,
                 resolution=(1 / 0.0347, 1 / 0.0347),
                 metadata={"axes": "TZCYX", "unit": "um", "finterval": 2.5, "spacing": 0.5})

# 1b. The layout ImageJ/Fiji use for stacks over 4 GB: one IFD, all frames contiguous after it
#     (`truncate=True`); readers must use `images=` from the description. uint16, TYX = 5x5x6, with
#     big-endian byte order to exercise byte swapping.
t5, y5, x5 = np.meshgrid(np.arange(5), np.arange(Y), np.arange(X), indexing="ij")
tifffile.imwrite("imagej_contiguous_u16_be.tif", ramp(t5, y5, x5).astype(">u2"),
                 imagej=True, truncate=True, byteorder=">", metadata={"axes": "TYX", "finterval": 0.5})

# 2. OME-TIFF, float32, TYX, pixel 34.7 nm (given in nm to exercise unit conversion), 1.5 s interval.
tifffile.imwrite("ome_float32.ome.tif", (ramp(t, y, x) + 0.5).astype(np.float32),
                 metadata={"axes": "TYX", "PhysicalSizeX": 34.7, "PhysicalSizeXUnit": "nm",
                           "PhysicalSizeY": 34.7, "PhysicalSizeYUnit": "nm",
                           "TimeIncrement": 1.5, "TimeIncrementUnit": "s"})

# 3. Plain multi-page uint8 TIFF, no metadata.
tifffile.imwrite("plain_u8.tif", (ramp(t, y, x) % 256).astype(np.uint8), metadata=None, photometric="minisblack")

# 4. Plain multi-page int32 TIFF, deflate-compressed, written with tiles (libtiff must decode).
tifffile.imwrite("tiled_i32_deflate.tif", (ramp(t, y, x) - 5).astype(np.int32), metadata=None,
                 compression="zlib", tile=(16, 16), photometric="minisblack")

# 5. RGB image: the reader must refuse it (non-grayscale).
tifffile.imwrite("rgb_u8.tif", np.zeros((Y, X, 3), np.uint8), photometric="rgb")

print("tifffile", tifffile.__version__, "numpy", np.__version__)
