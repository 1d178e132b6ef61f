import Foundation
import Glibc
import Imaging

/// `operando export DATASET --format ome-tiff`: the whole recording — every chunk, in order — as one
/// OME-TIFF (32-bit float pages, one per recorded frame) that Fiji/Bio-Formats, napari and tifffile
/// open as a T-series with its metadata: the OME-XML in page 0 gives the sizes (XYCZT, SizeT = frames),
/// the physical pixel size in µm, and for every plane `DeltaT` (the frame's first exposure, s of run
/// time) and `ExposureTime` (exposures binned × exposure time, s; 0 for a dropped frame). The
/// resolution tags carry the pixel size too (pixels per cm), for readers that ignore the XML.
/// Past ~4 GB the file is a BigTIFF (64-bit offsets).
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
        let clock = Date()
        let reader = try DatasetReader(dataset)
        var recording = try reader.recording()
        let out = path ?? defaultOutputPath(dataset: dataset)
        if FileManager.default.fileExists(atPath: out) {
            throw DatasetError.exists(path: out, reason: "already exists; choose another --out")
        }
        let n = recording.frameCount
        let pixelBytes = Double(recording.width * recording.height * 4) * Double(n)
        let big = bigTIFF ?? (pixelBytes > bigTIFFThresholdBytes)
        let run = reader.runInfo
        let parent = (out as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
            do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
                throw DatasetError.cannotWrite(path: parent, reason: "cannot create the directory")
            }
        }
        let tmp = out + ".partial"
        unlink(tmp)
        do {
            let writer = try TIFFStackWriter(path: tmp, sampleType: .float32, pixelSizeMicrometres: run.pixelSizeMicrometres, bigTIFF: big)
            writer.firstPageDescription = omeXML(recording: recording, run: run, name: (out as NSString).lastPathComponent)
            var last = Date()
            for k in 0..<n {
                try writer.append(try recording.frame(k).frame)
                if Date().timeIntervalSince(last) > 1 { last = Date(); progress("export: frame \(k + 1)/\(n)") }
            }
            try writer.close()
        } catch {
            unlink(tmp)
            if let e = error as? DatasetError { throw e }
            throw DatasetError.cannotWrite(path: out, reason: "\(error)")
        }
        try DurableFile.commit(tmp, to: out)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: out))?[.size] as? Int) ?? 0
        return Result(path: out, frames: n, bytes: bytes, bigTIFF: big, seconds: Date().timeIntervalSince(clock))
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
