import CAravis
import Foundation
import Rig

/// One camera Aravis can see, with the facts a rig file needs.
public struct AravisDeviceInfo: Sendable, Equatable {
    /// Aravis device id (what `device = "id:…"` takes).
    public var id: String
    public var vendor: String
    public var model: String
    public var serialNumber: String
    /// `USB3Vision`, `GigEVision` or `Fake`.
    public var transport: String
    /// Bus or network address.
    public var address: String
    /// `PixelFormat` entries offered.
    public var pixelFormats: [String] = []
    /// `TriggerSource` entries offered.
    public var triggerSources: [String] = []
    /// The exposure node and its range, µs.
    public var exposureFeature: String? = nil
    public var exposureRangeMicroseconds: ClosedRange<Double>? = nil
    /// Sensor size, pixels (0 when unknown).
    public var sensorWidth = 0, sensorHeight = 0
    /// Why the camera could not be opened to read its features (busy, permissions…), nil when it was.
    public var openError: String? = nil
}

/// Lists the rig's devices: Aravis cameras (opened briefly to read their features), GPIO chips and
/// serial ports.
public enum AravisDeviceList {
    /// Cameras Aravis finds; with `enableFake`, also its in-process fake (`Fake_1`).
    public static func list(enableFake: Bool) -> [AravisDeviceInfo] {
        AravisSystem.lock.withLock {
            if enableFake { arv_enable_interface("Fake") }
            arv_update_device_list()
            func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
            var out: [AravisDeviceInfo] = []
            for i in 0..<arv_get_n_devices() {
                var info = AravisDeviceInfo(id: str(arv_get_device_id(i)), vendor: str(arv_get_device_vendor(i)),
                                            model: str(arv_get_device_model(i)), serialNumber: str(arv_get_device_serial_nbr(i)),
                                            transport: str(arv_get_device_protocol(i)), address: str(arv_get_device_address(i)))
                var error: UnsafeMutablePointer<GError>? = nil
                let camera = arv_camera_new(info.id, &error)
                if let e = error {
                    let message = e.pointee.message.map { String(cString: $0) } ?? "unknown error"
                    g_error_free(e)
                    info.openError = USBChecks.permissionAdvice(for: message).map { "\(message); \($0)" } ?? message
                }
                if let camera, error == nil {
                    let f = AravisFeatures(camera: camera, device: info.id)
                    info.pixelFormats = (try? f.entries("PixelFormat")) ?? []
                    info.triggerSources = (try? f.entries("TriggerSource")) ?? []
                    if let e = f.first(of: ["ExposureTime", "ExposureTimeAbs"]), let r = try? f.numericRange(e), r.min <= r.max {
                        info.exposureFeature = e
                        info.exposureRangeMicroseconds = r.min...r.max
                    }
                    if let w = f.first(of: ["SensorWidth", "WidthMax"]), let h = f.first(of: ["SensorHeight", "HeightMax"]) {
                        info.sensorWidth = (try? f.integer(w)) ?? 0
                        info.sensorHeight = (try? f.integer(h)) ?? 0
                    }
                }
                operando_g_object_unref(camera)
                out.append(info)
            }
            return out
        }
    }

    /// GPIO character devices (`/dev/gpiochip*`), sorted.
    public static func gpioChips(devDirectory: String = "/dev") -> [String] {
        entries(devDirectory) { $0.hasPrefix("gpiochip") }
    }

    /// USB serial ports (`/dev/ttyUSB*`, `/dev/ttyACM*`: potentiostats, Arduino-class boards), sorted.
    public static func serialPorts(devDirectory: String = "/dev") -> [String] {
        entries(devDirectory) { $0.hasPrefix("ttyUSB") || $0.hasPrefix("ttyACM") }
    }

    private static func entries(_ dir: String, _ keep: (String) -> Bool) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter(keep).sorted { a, b in
            // gpiochip2 before gpiochip10.
            let na = Int(a.drop(while: { !$0.isNumber })) ?? 0, nb = Int(b.drop(while: { !$0.isNumber })) ?? 0
            return a.prefix(while: { !$0.isNumber }) == b.prefix(while: { !$0.isNumber }) ? na < nb : a < b
        }.map { dir + "/" + $0 }
    }

    /// The listing as `operando devices` prints it.
    public static func report(cameras: [AravisDeviceInfo], gpioChips: [String], serialPorts: [String]) -> String {
        var s = "Cameras (Aravis \(ARAVIS_VERSION)):\n"
        if cameras.isEmpty { s += "  none found (USB3 Vision and GigE Vision searched; --fake adds Aravis's fake camera)\n" }
        for c in cameras {
            s += "  \(c.vendor) \(c.model)  serial \(c.serialNumber)  id \(c.id)  [\(c.transport) \(c.address)]\n"
            if let e = c.openError { s += "    could not open: \(e)\n"; continue }
            if c.sensorWidth > 0 { s += "    sensor: \(c.sensorWidth)×\(c.sensorHeight)\n" }
            s += "    pixel formats: \(c.pixelFormats.joined(separator: ", "))\n"
            s += "    trigger sources: \(c.triggerSources.isEmpty ? "none" : c.triggerSources.joined(separator: ", "))\n"
            if let r = c.exposureRangeMicroseconds, let f = c.exposureFeature {
                s += "    exposure: \(format(r.lowerBound))…\(format(r.upperBound)) µs (\(f))\n"
            }
            s += "    rig file: [camera] backend = \"aravis\", device = \"serial:\(c.serialNumber)\"\n"
        }
        s += "GPIO chips:\n"
        s += gpioChips.isEmpty ? "  none (/dev/gpiochip*)\n" : gpioChips.map { "  \($0)\n" }.joined()
        s += "Serial ports:\n"
        s += serialPorts.isEmpty ? "  none (/dev/ttyUSB*, /dev/ttyACM*)\n" : serialPorts.map { "  \($0)\n" }.joined()
        return s
    }
}
