import Foundation
import Imaging
import Testing
@testable import Dataset

@Suite struct OMETIFFExportTests {
    /// The OME-XML of page 0, found in the file's bytes.
    func omeXML(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let start = try #require(data.range(of: Data("<?xml".utf8)))
        let end = try #require(data.range(of: Data("</OME>".utf8)))
        return String(decoding: data[start.lowerBound..<end.upperBound], as: UTF8.self)
    }

    func attributes(_ element: String, in xml: String) -> [[String: String]] {
        xml.components(separatedBy: "<\(element) ").dropFirst().map { piece in
            let body = piece.prefix { $0 != ">" }
            var out: [String: String] = [:]
            for pair in body.components(separatedBy: "\" ") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { out[String(kv[0]).trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"/ ")) }
            }
            return out
        }
    }

    @Test func recordingExportsAsOneOMETIFFThatReadsBack() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("cycle.operando")
        try makeRecordedDataset(dataset, frames: 12)   // three chunks
        let r = try OMETIFFExport.export(dataset: dataset)
        #expect(r.path == dir.file("cycle.ome.tif") && r.frames == 12 && !r.bigTIFF)
        // Pixels, sizes, pixel size and frame interval through our own TIFF reader.
        let stack = try TIFFStackReader(path: r.path)
        #expect(stack.info.frameCount == 12 && stack.info.width == 128 && stack.info.height == 128)
        #expect(stack.info.pixelSizeMicrometres.map { abs($0 - 0.0347) < 1e-9 } == true)
        #expect(stack.info.frameIntervalSeconds == 3)
        var recording = try DatasetReader(dataset).recording()
        for k in [0, 4, 5, 11] { #expect(try stack.readFrame(k).pixels == recording.frame(k).frame.pixels, "frame \(k)") }
        // Per-plane times and exposures in the OME-XML.
        let xml = try omeXML(r.path)
        let pixels = try #require(attributes("Pixels", in: xml).first)
        #expect(pixels["SizeT"] == "12" && pixels["DimensionOrder"] == "XYCZT" && pixels["Type"] == "float")
        #expect(pixels["PhysicalSizeX"] == "0.0347" && pixels["PhysicalSizeY"] == "0.0347")
        let planes = attributes("Plane", in: xml)
        #expect(planes.count == 12)
        #expect(planes.map { $0["DeltaT"] } == (0..<12).map { String(format: "%.9g", 3 * Double($0)) })
        #expect(planes.allSatisfy { $0["ExposureTime"] == "0.075" && $0["ExposureTimeUnit"] == "s" })   // 30 × 2.5 ms
        #expect(xml.contains("<TiffData IFD=\"0\" PlaneCount=\"12\"/>"))
        // An existing file is not overwritten.
        #expect(throws: DatasetError.self) { _ = try OMETIFFExport.export(dataset: dataset) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasSuffix(".partial") })
    }

    @Test func bigTIFFExportKeepsTheMetadata() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("big.operando")
        try makeRecordedDataset(dataset, frames: 3)
        let r = try OMETIFFExport.export(dataset: dataset, to: dir.file("out/big.ome.tif"), bigTIFF: true)
        let head = try Data(contentsOf: URL(fileURLWithPath: r.path)).prefix(4)
        #expect(Array(head) == [0x49, 0x49, 43, 0])   // little-endian BigTIFF
        let stack = try TIFFStackReader(path: r.path)
        #expect(stack.info.frameCount == 3 && stack.info.pixelSizeMicrometres.map { abs($0 - 0.0347) < 1e-9 } == true)
        #expect(attributes("Plane", in: try omeXML(r.path)).count == 3)
    }
}
