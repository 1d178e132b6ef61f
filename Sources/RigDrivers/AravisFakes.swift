import CAravis
import Foundation

/// Aravis's own fake cameras, for tests, benchmarks and `operando devices --fake`: the same GenICam
/// feature model and stream code as a real camera, inside this process.
///
/// - The in-process fake interface (`arv_enable_interface("Fake")`, device `Fake_1`) free-runs at its
///   `AcquisitionFrameRate` and ignores software triggers.
/// - The GigE Vision fake (`AravisGigEFake`) answers GVCP/GVSP on a loopback address and obeys
///   `TriggerSoftware`, polling for it at its trigger frequency.
/// Both paint frames through a fill-pattern callback (`AravisFakePainter`).
public struct AravisFakeCameraHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    /// How often a triggered fake polls for a software trigger, Hz (Aravis default 25 Hz: one
    /// trigger per 40 ms at best).
    public func setTriggerFrequency(hertz: Double) {
        AravisSystem.lock.withLock { arv_fake_camera_set_trigger_frequency(pointer, hertz) }
    }

    /// The fake's GenICam XML (what its features, ranges and enumerations are).
    public var genicamXML: String {
        var size = 0
        guard let p = arv_fake_camera_get_genicam_xml(pointer, &size) else { return "" }
        let bytes = UnsafeRawBufferPointer(start: p, count: size)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A GigE Vision fake camera served by this process on a loopback address (what
/// `arv-fake-gv-camera-0.8 -i 127.0.0.1` runs), stopped by `stop()` or on release.
public final class AravisGigEFake: @unchecked Sendable {
    private var pointer: OpaquePointer?
    /// Serial number the fake reports (its Aravis id is `Aravis-Fake-<serial>`).
    public let serialNumber: String
    /// The address it listens on.
    public let address: String

    /// Starts the fake.
    /// - Throws: `CameraError.unavailable` when it cannot bind (the GVCP port 3956 taken by another
    ///   fake or camera software on this address).
    public init(address: String = "127.0.0.1", serialNumber: String = "GV01") throws {
        self.address = address
        self.serialNumber = serialNumber
        let p = AravisSystem.lock.withLock { arv_gv_fake_camera_new(address, serialNumber) }
        guard let p, arv_gv_fake_camera_is_running(p) != 0 else {
            if let p { operando_g_object_unref(UnsafeMutableRawPointer(p)) }
            throw CameraError.unavailable(device: "GigE fake \(serialNumber)@\(address)",
                                          reason: "could not start (is UDP port 3956 on \(address) already in use by another fake?)")
        }
        pointer = p
    }

    /// The fake camera inside, for its trigger frequency and fill pattern; nil once stopped.
    public var camera: AravisFakeCameraHandle? {
        pointer.map { AravisFakeCameraHandle(arv_gv_fake_camera_get_fake_camera($0)) }
    }

    /// Simulated loss of stream packets, 0…1 (the fake does not resend lost packets).
    public func setLostPacketRatio(_ ratio: Double) {
        guard let p = pointer else { return }
        AravisSystem.lock.withLock { operando_arv_gv_fake_set_lost_ratio(p, min(1, max(0, ratio))) }
    }

    /// True until `stop()`.
    public var isRunning: Bool { pointer.map { arv_gv_fake_camera_is_running($0) != 0 } ?? false }

    /// Stops serving (as if the camera were unplugged).
    public func stop() {
        guard let p = pointer else { return }
        pointer = nil
        AravisSystem.lock.withLock { operando_g_object_unref(UnsafeMutableRawPointer(p)) }
    }

    deinit { stop() }
}

import Rig

/// One frame a fake camera asks to be painted.
public struct AravisFakeFill {
    public let width: Int
    public let height: Int
    /// GenICam pixel format name (`Mono16`, `Mono8`, …; other formats are passed as `0x…`).
    public let pixelFormat: String
    /// The fake's frame id and timestamp for this frame (the timestamp is host real time, ns).
    public let frameID: UInt64
    public let timestampNanoseconds: UInt64
    /// ExposureTime register, µs, and GainRaw.
    public let exposureMicroseconds: UInt32
    public let gainRaw: UInt32
    /// The buffer to paint, `byteCount` bytes (at least width × height × bytes per pixel).
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
}

/// Paints a fake camera's frames with a Swift closure (called on the fake's own thread, one frame
/// at a time); the previous built-in pattern returns when the painter is released.
public final class AravisFakePainter: @unchecked Sendable {
    /// Fills one frame; returns the number of bytes painted.
    public typealias Paint = @Sendable (AravisFakeFill) -> Int
    private let camera: AravisFakeCameraHandle
    let paint: Paint
    private var installed = false

    public init(camera: AravisFakeCameraHandle, paint: @escaping Paint) {
        self.camera = camera
        self.paint = paint
        let me = Unmanaged.passUnretained(self).toOpaque()
        arv_fake_camera_set_fill_pattern(camera.pointer, aravisFakeFillTrampoline, me)
        installed = true
    }

    /// Restores the fake's built-in pattern (call before the fake camera is released if it may
    /// outlive this painter; safe to call twice).
    public func uninstall() {
        guard installed else { return }
        installed = false
        arv_fake_camera_set_fill_pattern(camera.pointer, nil, nil)
    }

    deinit { uninstall() }
}

private func aravisFakeFillTrampoline(_ buffer: OpaquePointer?, _ data: UnsafeMutableRawPointer?, _ exposureMicroseconds: guint32,
                                      _ gain: guint32, _ format: ArvPixelFormat) {
    guard let buffer, let data else { return }
    let painter = Unmanaged<AravisFakePainter>.fromOpaque(data).takeUnretainedValue()
    var size = 0
    guard let bytes = operando_arv_buffer_fill_data(buffer, &size) else { return }
    let formatName = AravisPixelLayout.allCases.first(where: { $0.pfnc == UInt32(format) })?.rawValue
        ?? String(format: "0x%08x", UInt32(format))
    // The buffer's received size was reset by the fake stream; its allocation is what may be painted.
    let width = Int(arv_buffer_get_image_width(buffer)), height = Int(arv_buffer_get_image_height(buffer))
    let fill = AravisFakeFill(width: width, height: height, pixelFormat: formatName,
                              frameID: UInt64(arv_buffer_get_frame_id(buffer)), timestampNanoseconds: UInt64(arv_buffer_get_timestamp(buffer)),
                              exposureMicroseconds: exposureMicroseconds, gainRaw: gain, bytes: bytes,
                              byteCount: operando_arv_fake_buffer_allocated_size(buffer))
    let painted = painter.paint(fill)
    _ = operando_arv_fake_buffer_set_received_size(buffer, painted)
}
