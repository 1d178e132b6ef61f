import Rig
import RigDrivers
import Testing

@Test func rigFileDeviceAndTriggerValuesParse() {
    #expect(AravisDeviceSelector(rigFileValue: "") == .first)
    #expect(AravisDeviceSelector(rigFileValue: " first ") == .first)
    #expect(AravisDeviceSelector(rigFileValue: "serial:17512345") == .serial("17512345"))
    #expect(AravisDeviceSelector(rigFileValue: "id:Aravis-Fake-GV01") == .deviceID("Aravis-Fake-GV01"))
    #expect(AravisDeviceSelector(rigFileValue: "17512345") == .serial("17512345"))
    #expect(AravisTriggerSource(rigFileValue: "Line0") == .line("Line0"))
    #expect(AravisTriggerSource(rigFileValue: "software") == .software)
    #expect(AravisTriggerSource(rigFileValue: "FreeRunning") == .freeRunning)
    #expect(AravisTriggerSource.line("Line2").mode == .hardware)
    #expect(AravisTriggerSource.software.mode == .software)
}

@Test func configurationRangesAreCheckedWithTheKeyAndTheRange() throws {
    try AravisCameraConfiguration().validate()
    func reason(_ edit: (inout AravisCameraConfiguration) -> Void) -> String {
        var c = AravisCameraConfiguration()
        edit(&c)
        do { try c.validate(); return "" } catch { return "\(error)" }
    }
    #expect(reason { $0.exposureMilliseconds = 0 }.contains("exposure_ms: 0.0 is outside 0.001…10000 ms"))
    #expect(reason { $0.gainDecibels = 60 }.contains("gain_dB: 60.0 is outside 0…48 dB"))
    #expect(reason { $0.buffers = 1 }.contains("buffers: 1 is outside 2…256"))
    #expect(reason { $0.timeoutMilliseconds = .nan }.contains("timeout_ms"))
    #expect(reason { $0.pixelFormat = "RGB8" }.contains("pixel_format: \"RGB8\" is not one of Mono16, Mono12, Mono8"))
    #expect(reason { $0.roi = RegionOfInterest(x: -2, y: 0, width: 10, height: 10) }.contains("roi: [-2, 0, 10, 10]"))
    #expect(reason { $0.triggerSource = .line("") }.contains("trigger_source"))
}
