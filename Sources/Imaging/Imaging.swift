/// Imaging: frame and stack types, TIFF I/O, drift correction, contrast, masks, metrics.
/// (Grows with issue 3.)
public enum ImagingModule {}
