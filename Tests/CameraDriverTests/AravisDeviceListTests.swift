import Foundation
import RigDrivers
import Testing

extension AravisSuite {
    @Suite struct DeviceListTests {
        @Test func fakeInterfaceListsTheFakeCameraWithItsFeatures() throws {
            let cameras = AravisDeviceList.list(enableFake: true)
            let fake = try #require(cameras.first { $0.id == "Fake_1" }, "found: \(cameras.map(\.id))")
            #expect(fake.vendor == "Aravis" && fake.model == "Fake")
            #expect(fake.openError == nil)
            #expect(fake.pixelFormats.contains("Mono16") && fake.pixelFormats.contains("Mono8"))
            #expect(fake.triggerSources == ["Line0", "Software"])
            #expect(fake.exposureRangeMicroseconds == 10...10_000_000)
            #expect(fake.sensorWidth == 2048 && fake.sensorHeight == 2048)
            let text = AravisDeviceList.report(cameras: cameras, gpioChips: [], serialPorts: [])
            #expect(text.contains("id Fake_1"))
            #expect(text.contains("trigger sources: Line0, Software"))
            #expect(text.contains("exposure: 10…10000000 µs"))
        }
    }
}

@Test func gpioChipsAndSerialPortsAreFoundInTheDeviceDirectory() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for n in ["gpiochip10", "gpiochip2", "ttyACM0", "ttyUSB1", "ttyS0", "null"] {
        FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: nil)
    }
    #expect(AravisDeviceList.gpioChips(devDirectory: dir.path) == [dir.path + "/gpiochip2", dir.path + "/gpiochip10"])
    #expect(AravisDeviceList.serialPorts(devDirectory: dir.path) == [dir.path + "/ttyACM0", dir.path + "/ttyUSB1"])
}
