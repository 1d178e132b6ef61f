import Foundation
import RigDrivers
import Testing

@Test func usbfsLimitBelowThePoolGivesAWarningThatSaysHowToRaiseIt() throws {
    // 16 buffers of a full 1920×1200 Mono16 frame ≈ 70 MiB > the kernel's default 16 MiB.
    let w = try #require(USBChecks.usbfsWarning(buffers: 16, payloadBytes: 1920 * 1200 * 2, limitMegabytes: 16))
    #expect(w.contains("16 MiB"))
    #expect(w.contains("usbcore.usbfs_memory_mb="))
    #expect(w.contains(USBChecks.usbfsMemoryPath))
    #expect(USBChecks.usbfsWarning(buffers: 16, payloadBytes: 1920 * 1200 * 2, limitMegabytes: 1000) == nil)
    #expect(USBChecks.usbfsWarning(buffers: 16, payloadBytes: 1920 * 1200 * 2, limitMegabytes: 0) == nil, "0 is unlimited")
    #expect(USBChecks.usbfsWarning(buffers: 16, payloadBytes: 1920 * 1200 * 2, limitMegabytes: nil) == nil)
}

@Test func usbfsLimitIsReadFromTheSysfsFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("usbfs_memory_mb")
    try "16\n".write(to: file, atomically: true, encoding: .utf8)
    #expect(USBChecks.usbfsMemoryMegabytes(path: file.path) == 16)
    #expect(USBChecks.usbfsMemoryMegabytes(path: dir.appendingPathComponent("absent").path) == nil)
}

@Test func permissionErrorsNameTheUdevRule() throws {
    let advice = try #require(USBChecks.permissionAdvice(for: "libusb_open failed: LIBUSB_ERROR_ACCESS"))
    #expect(advice.contains(USBChecks.udevRule))
    #expect(advice.contains("/etc/udev/rules.d/"))
    #expect(USBChecks.udevRule.contains("bInterfaceClass}==\"ef\""))
    #expect(USBChecks.permissionAdvice(for: "device not found") == nil)
}
