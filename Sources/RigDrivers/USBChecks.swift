import Foundation

/// Linux facts that decide whether a USB3 Vision camera streams: the usbfs memory limit and the
/// device-node permissions. Checked when a camera is opened and started; findings are warnings
/// (strings) the run engine records as events, each saying how to fix it.
public enum USBChecks {
    /// Where the kernel exposes the usbfs limit, MiB (default 16; 0 means unlimited).
    public static let usbfsMemoryPath = "/sys/module/usbcore/parameters/usbfs_memory_mb"

    /// The udev rule that gives the `plugdev` group access to USB3 Vision cameras (interface class
    /// 0xEF, subclass 0x05), for `/etc/udev/rules.d/99-usb3vision.rules`.
    public static let udevRule =
        #"SUBSYSTEM=="usb", ATTRS{bInterfaceClass}=="ef", ATTRS{bInterfaceSubClass}=="05", MODE="0664", GROUP="plugdev""#

    /// Reads the usbfs limit (MiB), nil when the file is absent (no usbcore, not Linux).
    public static func usbfsMemoryMegabytes(path: String = usbfsMemoryPath) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A warning when the buffer pool (`buffers` × `payloadBytes`, plus Aravis's transfer slack) does
    /// not fit in the usbfs limit; nil when it fits, the limit is 0 (unlimited) or unknown.
    public static func usbfsWarning(buffers: Int, payloadBytes: Int, limitMegabytes: Int?) -> String? {
        guard let limit = limitMegabytes, limit > 0 else { return nil }
        // Aravis queues transfers for every buffer; count the pool once, rounded up, plus 16 MiB
        // of headroom for the control channel and other USB devices.
        let needed = (buffers * payloadBytes + (1 << 20) - 1) / (1 << 20) + 16
        guard needed > limit else { return nil }
        let suggestion = Swift.max(256, needed.nextPowerOfTwoAtLeast)
        return "usbfs memory limit is \(limit) MiB but \(buffers) buffers of \(payloadBytes) bytes need about \(needed) MiB: "
            + "frames will be lost. Raise it now with `echo \(suggestion) | sudo tee \(usbfsMemoryPath)`, "
            + "and for good with the kernel parameter `usbcore.usbfs_memory_mb=\(suggestion)` "
            + "(e.g. in /etc/default/grub GRUB_CMDLINE_LINUX, or /boot/firmware/cmdline.txt on a Raspberry Pi)"
    }

    /// Explains a failure to open a USB camera that looks like a permission problem; nil otherwise.
    public static func permissionAdvice(for message: String) -> String? {
        let m = message.lowercased()
        guard m.contains("permission") || m.contains("access denied") || m.contains("libusb_error_access")
                || m.contains("not permitted") else { return nil }
        return "no permission to open the USB camera: add the udev rule \(udevRule) to "
            + "/etc/udev/rules.d/99-usb3vision.rules, run `sudo udevadm control --reload && sudo udevadm trigger`, "
            + "add your user to the plugdev group and replug the camera"
    }
}

extension Int {
    var nextPowerOfTwoAtLeast: Int {
        var p = 1
        while p < self { p <<= 1 }
        return p
    }
}
