import Foundation
import Glibc
import Imaging

/// `operando export DATASET --format ome-tiff`: the whole recording — every chunk, in order — as one
/// OME-TIFF (32-bit float pages, one per recorded frame) that Fiji/Bio-Formats, napari and tifffile
/// open as a T-series with its metadata: the OME-XML in page 0 gives the sizes (XYCZT, SizeT = frames),
/// the physical pixel size in µm, and for every plane `DeltaT` (the frame's first exposure, s of run
/// time) and `ExposureTime` (exposures binned × exposure time, s; 0 for a dropped frame). The
/// resolution tags carry the pixel size too (pixels per cm, on every page), for readers that ignore
/// the XML. Pages are deflate-compressed (lossless). Past ~4 GB the file is a BigTIFF (64-bit offsets).
public enum OMETIFFExport {
    /// What an export wrote.
    public struct Result: Sendable {
        /// The file written.
        public var path: String
        /// Planes (recorded frames).
        public var frames: Int
        /// File size, bytes.
        public var bytes: Int
        /// Written with 64-bit offsets.
        public var bigTIFF: Bool
        /// Wall time, s.
        public var seconds: Double
    }

    /// Pages past this many bytes of pixels make the file a BigTIFF (classic TIFF offsets are 32-bit).
    public static let bigTIFFThresholdBytes = 3.9e9

    /// `NAME.ome.tif` beside `NAME.operando/`.
    public static func defaultOutputPath(dataset: String) -> String {
        let standard = (dataset as NSString).standardizingPath
        var name = (standard as NSString).lastPathComponent
        if name.hasSuffix(".operando") { name = String(name.dropLast(".operando".count)) }
        return ((standard as NSString).deletingLastPathComponent as NSString).appendingPathComponent((name.isEmpty ? "recording" : name) + ".ome.tif")
    }

    /// Exports the recording of `dataset` to `path` (default `defaultOutputPath(dataset:)`). The file
    /// is written under a temporary name and renamed into place when complete; an existing file is
    /// not overwritten. `bigTIFF` nil: chosen from the size.
    public static func export(dataset: String, to path: String? = nil, bigTIFF: Bool? = nil,
                              progress: (String) -> Void = { _ in }) throws -> Result {
        let reader = try DatasetReader(dataset)
        let recording = try reader.recording()
        let out = path ?? defaultOutputPath(dataset: dataset)
        let big = bigTIFF ?? (pixelBytes(recording) > bigTIFFThresholdBytes)
        let run = reader.runInfo
        return try write(recording, to: out, bigTIFF: big, progress: progress) { tmp in
            let writer = try TIFFStackWriter(path: tmp, sampleType: .float32, pixelSizeMicrometres: run.pixelSizeMicrometres, bigTIFF: big)
            writer.firstPageDescription = omeXML(recording: recording, run: run, name: (out as NSString).lastPathComponent)
            return writer
        }
    }

    /// Bytes of the recording's pixels as 32-bit floats, uncompressed.
    static func pixelBytes(_ recording: RecordingView) -> Double {
        Double(recording.width * recording.height * 4) * Double(recording.frameCount)
    }

    /// Writes every frame of `recording` through the writer `make` opens on the temporary file, then
    /// renames it to `out` (refused when `out` exists; no `.partial` left on failure).
    static func write(_ recording: RecordingView, to out: String, bigTIFF: Bool, progress: (String) -> Void,
                      make: (String) throws -> TIFFStackWriter) throws -> Result {
        let clock = Date()
        var recording = recording
        if FileManager.default.fileExists(atPath: out) {
            throw DatasetError.exists(path: out, reason: "already exists; choose another --out")
        }
        let n = recording.frameCount
        let parent = (out as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
            do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
                throw DatasetError.cannotWrite(path: parent, reason: "cannot create the directory")
            }
        }
        let tmp = out + ".partial"
        unlink(tmp)
        do {
            let writer = try make(tmp)
            var last = Date()
            var low = Float.infinity, high = -Float.infinity
            for k in 0..<n {
                let frame = try recording.frame(k).frame
                for v in frame.pixels where v.isFinite { low = min(low, v); high = max(high, v) }
                try writer.append(frame)
                if Date().timeIntervalSince(last) > 1 { last = Date(); progress("export: frame \(k + 1)/\(n)") }
            }
            // ImageJ's display range (ignored with an OME description): the data's, not page 0's.
            if low <= high { writer.displayRange = (Double(low), Double(high)) }
            try writer.close()
        } catch {
            unlink(tmp)
            if let e = error as? DatasetError { throw e }
            throw DatasetError.cannotWrite(path: out, reason: "\(error)")
        }
        try DurableFile.commit(tmp, to: out)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: out))?[.size] as? Int) ?? 0
        return Result(path: out, frames: n, bytes: bytes, bigTIFF: bigTIFF, seconds: Date().timeIntervalSince(clock))
    }

    /// The OME-XML of the recording (OME 2016-06 schema).
    static func omeXML(recording: RecordingView, run: RunInfo, name: String) -> String {
        func number(_ x: Double) -> String { x.isFinite ? String(format: "%.9g", x) : "0" }
        let exposureSeconds = run.exposureMilliseconds.isFinite ? run.exposureMilliseconds / 1000 : nil
        var xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" \
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
        xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd" \
        Creator="\(escape("operando " + run.softwareVersion))">
        <Image ID="Image:0" Name="\(escape(name))">
        """
        if !run.startTimeUTC.isEmpty { xml += "<AcquisitionDate>\(escape(run.startTimeUTC))</AcquisitionDate>" }
        xml += "<Description>\(escape("operando recording; protocol \(run.protocolPath); \(run.backend)"))</Description>"
        var pixels = "<Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"float\" BigEndian=\"false\" "
        pixels += "SizeX=\"\(recording.width)\" SizeY=\"\(recording.height)\" SizeC=\"1\" SizeZ=\"1\" SizeT=\"\(recording.frameCount)\" "
        pixels += "PhysicalSizeX=\"\(number(run.pixelSizeMicrometres))\" PhysicalSizeY=\"\(number(run.pixelSizeMicrometres))\""
        if let dt = recording.frameIntervalSeconds, dt > 0 { pixels += " TimeIncrement=\"\(number(dt))\" TimeIncrementUnit=\"s\"" }
        xml += pixels + ">"
        let led = run.ledWavelengthNanometres.isFinite && run.ledWavelengthNanometres > 0 ? " \(number(run.ledWavelengthNanometres)) nm" : ""
        xml += "<Channel ID=\"Channel:0:0\" Name=\"scattering\(led)\" SamplesPerPixel=\"1\"/>"
        xml += "<TiffData IFD=\"0\" PlaneCount=\"\(recording.frameCount)\"/>"
        for (k, r) in recording.records.enumerated() {
            let exposure = exposureSeconds.map { Double(r.exposures) * $0 } ?? max(0, r.endSeconds - r.startSeconds)
            xml += "<Plane TheC=\"0\" TheZ=\"0\" TheT=\"\(k)\" DeltaT=\"\(number(r.startSeconds))\" DeltaTUnit=\"s\" "
            xml += "ExposureTime=\"\(number(r.exposures > 0 ? exposure : 0))\" ExposureTimeUnit=\"s\"/>"
        }
        xml += "</Pixels></Image></OME>\n"
        return xml
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: if c.value < 0x20 || c.value >= 0x7F { out += "&#\(c.value);" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}

/// `operando export DATASET --format imagej`: the whole recording as one ImageJ hyperstack TIFF that
/// Fiji (and plain ImageJ 1.x) opens as a T-series with its calibration: page 0's ImageDescription is
/// `ImageJ=1.11a` with `frames=` (the frame count), `hyperstack=true`, `unit=micron`, `spacing`,
/// `finterval` (the median frame step, s), `min`/`max` (the data's range) and `loop=false`. It has no
/// `images=`: ImageJ then reads every IFD, as these compressed pages need (with `images=` it reads
/// one IFD and expects the rest contiguous and uncompressed);
/// every page carries XResolution/YResolution in pixels per µm with ResolutionUnit none (ImageJ's
/// convention for a `unit`). 32-bit float pages, deflate-compressed. Per-frame times are not
/// representable in ImageJ's metadata: they stay in frames.csv and the OME-TIFF export's DeltaT.
/// ImageJ cannot open a BigTIFF, so a recording whose pixels pass 4 GB is refused (use ome-tiff).
public enum ImageJExport {
    /// The most pixel bytes (32-bit float, uncompressed) an ImageJ export takes: classic TIFF's
    /// 32-bit offsets, with room for the directories.
    public static let maximumPixelBytes = 3.9e9

    /// `NAME.tif` beside `NAME.operando/`.
    public static func defaultOutputPath(dataset: String) -> String {
        let ome = OMETIFFExport.defaultOutputPath(dataset: dataset)
        return String(ome.dropLast(".ome.tif".count)) + ".tif"
    }

    /// Exports the recording of `dataset` to `path` (default `defaultOutputPath(dataset:)`), under a
    /// temporary name renamed into place when complete; an existing file is not overwritten.
    /// `maximumPixelBytes`: the limit (tests lower it).
    /// - Throws: `DatasetError.cannotWrite` naming the size and pointing to `--format ome-tiff` past
    ///   `maximumPixelBytes`.
    public static func export(dataset: String, to path: String? = nil, maximumPixelBytes: Double = ImageJExport.maximumPixelBytes,
                              progress: (String) -> Void = { _ in }) throws -> OMETIFFExport.Result {
        let reader = try DatasetReader(dataset)
        let recording = try reader.recording()
        let out = path ?? defaultOutputPath(dataset: dataset)
        let bytes = OMETIFFExport.pixelBytes(recording)
        if bytes > maximumPixelBytes {
            throw DatasetError.cannotWrite(path: out, reason: String(format: "%d frames of %d×%d float pixels are %.3g GB; an ImageJ TIFF holds at most 4 GB (ImageJ cannot open BigTIFF): use --format ome-tiff",
                                                                        recording.frameCount, recording.width, recording.height, bytes / 1e9))
        }
        let run = reader.runInfo
        let pixelSize = run.pixelSizeMicrometres.isFinite && run.pixelSizeMicrometres > 0 ? run.pixelSizeMicrometres : recording.pixelSizeMicrometres
        return try OMETIFFExport.write(recording, to: out, bigTIFF: false, progress: progress) { tmp in
            try TIFFStackWriter(path: tmp, sampleType: .float32, pixelSizeMicrometres: pixelSize,
                                frameIntervalSeconds: recording.frameIntervalSeconds)
        }
    }
}
