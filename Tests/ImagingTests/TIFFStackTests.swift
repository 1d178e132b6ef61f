import Foundation
import Testing
@testable import Imaging

func temporaryDirectory(_ name: String = #function) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("operando-imaging-tests-\(ProcessInfo.processInfo.processIdentifier)")
        .appendingPathComponent(name.filter { $0.isLetter || $0.isNumber })
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Test func float32MultiPageRoundTripKeepsPixelsAndMetadata() throws {
    let path = temporaryDirectory().appendingPathComponent("f32.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.0347,
                                     frameIntervalSeconds: 3.0)
    var frames: [BinnedFrame] = []
    for k in 0..<5 {
        let f = BinnedFrame(width: 7, height: 4, pixels: (0..<28).map { Float($0) * 0.25 + Float(k) - 3.5 })
        frames.append(f)
        try writer.append(f)
    }
    var nanFrame = frames[0]
    nanFrame[2, 1] = .nan
    try writer.append(nanFrame)
    try writer.close()
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.width == 7 && reader.info.height == 4 && reader.info.frameCount == 6)
    #expect(abs((reader.info.pixelSizeMicrometres ?? 0) - 0.0347) < 1e-6)
    #expect(reader.info.frameIntervalSeconds == 3.0)
    for k in 0..<5 { #expect(try reader.readFrame(k).pixels == frames[k].pixels) }
    #expect(try reader.readFrame(5)[2, 1].isNaN)
}

@Test func uint16RoundTripRoundsAndClamps() throws {
    let path = temporaryDirectory().appendingPathComponent("u16.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .uint16)
    try writer.append(RawFrame(width: 3, height: 2, pixels: [0, 1, 2, 65535, 1000, 7]))
    try writer.append(BinnedFrame(width: 3, height: 2, pixels: [-5, 1.4, 1.6, 70000, 1000, .nan]))
    try writer.close()
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.frameCount == 2)
    #expect(reader.info.pixelSizeMicrometres == nil)
    #expect(try reader.readFrame(0).pixels == [0, 1, 2, 65535, 1000, 7])
    #expect(try reader.readFrame(1).pixels == [0, 1, 2, 65535, 1000, 0])
}
