import CAravis
import Rig

/// Unwraps a camera's frame counter to 64 bits and counts the ids skipped in between.
///
/// GigE Vision without extended ids sends a 16-bit block id that skips 0 (…, 65534, 65535, 1, 2, …);
/// USB3 Vision and extended-id GigE send 64 bits. The Aravis fakes start just below the 16-bit wrap,
/// so wrap bugs show within the first frames.
public struct FrameIDUnwrapper: Sendable, Equatable {
    /// Number of distinct ids before the counter repeats (65 535 for 16-bit GigE ids that skip 0;
    /// nil: a 64-bit counter that never wraps in practice).
    public let period: UInt64?
    private var lastRaw: UInt64?
    private var unwrapped: UInt64 = 0

    /// - Parameter sixteenBitGigE: the counter is GigE Vision's 16-bit block id (1…65535).
    public init(sixteenBitGigE: Bool) { period = sixteenBitGigE ? 65_535 : nil }

    /// The unwrapped id for the next raw id, and how many ids were skipped since the previous one.
    /// A counter that jumps backwards by more than half its period (a device restart) restarts the
    /// unwrapped count after the previous value, without counting a gap.
    public mutating func next(_ raw: UInt64) -> (id: UInt64, skipped: UInt64) {
        guard let last = lastRaw else {
            lastRaw = raw
            unwrapped = raw
            return (raw, 0)
        }
        lastRaw = raw
        var delta: UInt64
        if let p = period {
            // Map 1…65535 onto 0…65534 so the modular difference ignores the skipped 0.
            let a = (last == 0 ? 0 : last - 1) % p, b = (raw == 0 ? 0 : raw - 1) % p
            delta = (b + p - a) % p
            if delta > p / 2 { delta = 1; unwrapped &+= 1; return (unwrapped, 0) }   // backwards: restart
        } else {
            if raw == last { return (unwrapped, 0) }   // duplicate id: same frame id again
            if raw < last { unwrapped &+= 1; return (unwrapped, 0) }   // backwards: restart
            delta = raw - last
        }
        if delta == 0 { return (unwrapped, 0) }   // duplicate id: same frame id again
        unwrapped &+= delta
        return (unwrapped, delta - 1)
    }
}

extension CameraBufferStatus {
    /// From Aravis's `ArvBufferStatus`.
    init(aravis s: ArvBufferStatus) {
        switch s {
        case ARV_BUFFER_STATUS_SUCCESS: self = .success
        case ARV_BUFFER_STATUS_CLEARED: self = .cleared
        case ARV_BUFFER_STATUS_TIMEOUT: self = .timeout
        case ARV_BUFFER_STATUS_MISSING_PACKETS: self = .missingPackets
        case ARV_BUFFER_STATUS_WRONG_PACKET_ID: self = .wrongPacketID
        case ARV_BUFFER_STATUS_SIZE_MISMATCH: self = .sizeMismatch
        case ARV_BUFFER_STATUS_FILLING: self = .filling
        case ARV_BUFFER_STATUS_ABORTED: self = .aborted
        default:
            // PAYLOAD_NOT_SUPPORTED (8) is not in 0.8.26's header enum; match it by value.
            self = s.rawValue == 8 ? .payloadNotSupported : .unknown
        }
    }

    /// What the status means, for a dropped-frame record.
    var explanation: String {
        switch self {
        case .success: return "SUCCESS"
        case .cleared: return "CLEARED: buffer emptied before it was filled"
        case .timeout: return "TIMEOUT: the frame did not complete within the stream's frame-retention time"
        case .missingPackets: return "MISSING_PACKETS: packets lost in transfer and not resent in time"
        case .wrongPacketID: return "WRONG_PACKET_ID: packets out of sequence"
        case .sizeMismatch: return "SIZE_MISMATCH: the image does not fit the buffer (payload changed?)"
        case .filling: return "FILLING: handed out while still being filled"
        case .aborted: return "ABORTED: acquisition stopped while the frame was in transfer"
        case .payloadNotSupported: return "PAYLOAD_NOT_SUPPORTED: not an image payload"
        case .unknown: return "UNKNOWN buffer status"
        case .neverDelivered: return "never delivered: a gap in the camera's frame counter (buffer underrun or lost leader)"
        }
    }
}

/// The pixel layouts the driver reads, by GenICam name and PFNC code.
public enum AravisPixelLayout: String, Sendable, CaseIterable {
    /// 16 bits per pixel, little-endian: handed on as is.
    case mono16 = "Mono16"
    /// 12 significant bits in a 16-bit little-endian word (unpacked): handed on as is.
    case mono12 = "Mono12"
    /// 8 bits per pixel: widened to 16 bits in one pass.
    case mono8 = "Mono8"

    /// PFNC code (Mono16 0x0110_0007, Mono12 0x0110_0005, Mono8 0x0108_0001).
    public var pfnc: UInt32 {
        switch self {
        case .mono16: return 0x0110_0007
        case .mono12: return 0x0110_0005
        case .mono8: return 0x0108_0001
        }
    }

    public var bytesPerPixel: Int { self == .mono8 ? 1 : 2 }

    /// True when the buffer's bytes already are the 16-bit words the binner wants (no conversion).
    public var isNative16: Bool { self != .mono8 }

    /// Copies (Mono16/Mono12) or widens (Mono8) `count` pixels from raw buffer bytes into `dst`.
    @inline(__always)
    public func convert(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<UInt16>) {
        switch self {
        case .mono16, .mono12:
            // Little-endian on the wire and on every host we build for (x86-64, arm64).
            dst.update(from: src.assumingMemoryBound(to: UInt16.self), count: count)
        case .mono8:
            let s = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { dst[i] = UInt16(s[i]) }
        }
    }
}

/// Rounding a requested ROI onto a device's increments.
public enum ROIRounding {
    /// The largest allowed value ≤ `value` on the grid `min + k·increment` (and ≥ `min`).
    public static func roundDown(_ value: Int, min: Int, increment: Int) -> Int {
        guard value > min, increment > 1 else { return Swift.max(value, min) }
        return min + (value - min) / increment * increment
    }
}
