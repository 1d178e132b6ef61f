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

    /// Issue 16 item 6: tifffile opens the OME export as one (T, Y, X) series with per-plane DeltaT,
    /// the physical pixel size, deflate pages and the resolution tags (pixels per cm) on every page.
    @Test func tifffileReadsTheOMEExportAsOneTimeSeries() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("cycle.operando")
        try makeRecordedDataset(dataset, frames: 12)
        let r = try OMETIFFExport.export(dataset: dataset)
        let script = """
        import sys, tifffile, numpy
        with tifffile.TiffFile(sys.argv[1]) as t:
            s = t.series[0]
            meta = tifffile.xml2dict(t.ome_metadata)['OME']['Image']['Pixels']
            planes = meta['Plane']
            pages = [p.aspage() if hasattr(p, 'aspage') else p for p in t.pages]   # every IFD, not tifffile's light frames
            res = {(p.tags['XResolution'].value, p.tags['YResolution'].value, int(p.tags['ResolutionUnit'].value)) for p in pages}
            print(t.is_ome, s.shape, s.axes, s.dtype, meta['PhysicalSizeX'], meta['PhysicalSizeY'], len(planes))
            print([p['DeltaT'] for p in planes][:4], planes[0]['ExposureTime'], sorted({int(p.compression) for p in pages}))
            (xn, xd), (yn, yd), unit = res.pop()
            print(len(res), unit, round(1e4 / (xn / xd), 6), round(1e4 / (yn / yd), 6), float(s.asarray()[4, 64, 64]))
        """
        let output = try #require(tifffile(script, [r.path]))
        var recording = try DatasetReader(dataset).recording()
        let centre = Double(try recording.frame(4).frame.pixels[64 * 128 + 64])
        #expect(output == """
        True (12, 128, 128) TYX float32 0.0347 0.0347 12
        [0, 3, 6, 9] 0.075 [8]
        0 3 0.0347 0.0347 \(centre)

        """)
    }

    /// Issue 16 item 6: the ImageJ export is an ImageJ hyperstack Fiji opens as a T stack with its
    /// calibration: tifffile sees is_imagej, frames = T (no images=, so ImageJ reads every IFD), finterval, unit micron, loop false,
    /// and every page's resolution in pixels per µm (ResolutionUnit none, ImageJ's convention).
    @Test func imageJExportIsAHyperstackWithItsCalibration() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("cycle.operando")
        try makeRecordedDataset(dataset, frames: 12)
        let r = try ImageJExport.export(dataset: dataset)
        #expect(r.path == dir.file("cycle.tif") && r.frames == 12 && !r.bigTIFF)
        let script = """
        import sys, tifffile
        with tifffile.TiffFile(sys.argv[1]) as t:
            s = t.series[0]; ij = t.imagej_metadata
            d = t.pages[0].tags['ImageDescription'].value
            res = {(p.tags['XResolution'].value, int(p.tags['ResolutionUnit'].value)) for p in t.pages}
            (n, q), unit = res.pop()
            print(t.is_imagej, t.is_ome, s.shape, s.axes, d.startswith('ImageJ=1.11a'), 'images' in ij, ij['frames'], ij['finterval'],
                  ij['unit'], ij['loop'], ij['hyperstack'], ij['min'] < ij['max'])
            print(len(res), unit, round(q / n, 6), len(t.pages), sorted({int(p.compression) for p in t.pages}))
        """
        let output = try #require(tifffile(script, [r.path]))
        #expect(output == """
        True False (12, 128, 128) TYX True False 12 3.0 micron False True True
        0 1 0.0347 12 [8]

        """)
        // Our reader sees the same calibration.
        let stack = try TIFFStackReader(path: r.path)
        #expect(stack.info.frameCount == 12 && stack.info.frameIntervalSeconds == 3)
        #expect(stack.info.pixelSizeMicrometres.map { abs($0 - 0.0347) < 1e-9 } == true)
        var recording = try DatasetReader(dataset).recording()
        #expect(try stack.readFrame(7).pixels == recording.frame(7).frame.pixels)
    }

    /// ImageJ cannot open BigTIFF: past the classic-TIFF limit the export is refused in one line that
    /// names the size and points to ome-tiff, and nothing is written.
    @Test func imageJExportPastFourGigabytesIsRefused() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("long.operando")
        try makeRecordedDataset(dataset, frames: 3)
        do {
            _ = try ImageJExport.export(dataset: dataset, maximumPixelBytes: 100_000)
            Issue.record("an export over the limit was written")
        } catch let e as DatasetError {
            let text = "\(e)"
            #expect(text.contains("--format ome-tiff") && text.contains("BigTIFF") && !text.contains("\n"), "\(text)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("long.tif")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("long.tif.partial")))
    }
}
