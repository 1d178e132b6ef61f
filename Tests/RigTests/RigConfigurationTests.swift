import Dataset
import Imaging
import Testing
@testable import Rig

/// The rig file's `[recording]` table (issue 16 item 5).
@Suite struct RigConfigurationTests {
    @Test func recordingCompressionDefaultsToDeflateAndCanBeTurnedOff() throws {
        #expect(try RigConfiguration.parse(text: "backend = \"sim\"\n", file: "rig.toml").recordingCompression == .deflate)
        let off = try RigConfiguration.parse(text: "[recording]\ncompression = \"none\"\n", file: "rig.toml")
        #expect(off.recordingCompression == TIFFStackWriter.Compression.none)
        #expect(off.json["recording_compression"]?.string == "none")
        let on = try RigConfiguration.parse(text: "[recording]\ncompression = \"deflate\"\n", file: "rig.toml")
        #expect(on.recordingCompression == .deflate)
    }

    @Test func anUnknownCompressionOrKeyNamesTheFileLineAndTheChoices() throws {
        do {
            _ = try RigConfiguration.parse(text: "[recording]\ncompression = \"zstd\"\n", file: "rig.toml")
            Issue.record("compression = \"zstd\" was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("rig.toml") && text.contains("zstd") && text.contains("\"deflate\"") && text.contains("\"none\""), "\(text)")
        }
        #expect(throws: (any Error).self) {
            _ = try RigConfiguration.parse(text: "[recording]\ncompresion = \"none\"\n", file: "rig.toml")
        }
    }
}
