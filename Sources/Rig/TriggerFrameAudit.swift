/// Matches the exposure loop's triggers to the camera's frames, for the per-run audit in
/// `timing.json` (matched, missing, extra and late frames) and the events that list them.
///
/// Triggered cameras (hardware edge or software trigger): each trigger expects exactly one frame whose
/// exposure starts within `toleranceNanoseconds` after it; frames are matched in order, the oldest
/// open trigger first. Free-running cameras: each expected exposure time is matched to the frame whose
/// exposure start is nearest, within the tolerance (a free-running camera is caught by timestamp).
/// A frame that arrives more than `lateAfterNanoseconds` after its exposure started is matched but
/// also counted late. Times are the rig's clock, nanoseconds. No allocation after `init`.
public struct TriggerFrameAudit: Sendable {
    /// How a frame relates to the triggers.
    public enum Outcome: Sendable, Equatable {
        /// The frame answers trigger `index` (late: it arrived after `lateAfterNanoseconds`).
        case matched(triggerIndex: Int64, late: Bool)
        /// No open trigger fits the frame's exposure start.
        case extra
    }

    public let toleranceNanoseconds: Int64
    public let lateAfterNanoseconds: Int64
    public let matchByNearestTime: Bool
    public private(set) var matched = 0
    public private(set) var missing = 0
    public private(set) var extra = 0
    public private(set) var late = 0

    // Open triggers: a ring of (index, time), oldest first.
    private var ringIndex: [Int64]
    private var ringTime: [Int64]
    private var head = 0, count = 0
    /// Triggers given up as missing since the last `takeMissing()`, oldest first (bounded by capacity).
    private var missingIndices: [Int64]

    /// - Parameters:
    ///   - mode: `.freeRunning` matches by nearest time; others in order.
    ///   - toleranceNanoseconds: largest allowed |exposure start − trigger time| (triggered: the frame
    ///     may start up to this long after its trigger).
    ///   - lateAfterNanoseconds: arrival later than this after the exposure start counts as late.
    ///   - capacity: open triggers kept (older ones are declared missing).
    public init(mode: CameraTriggerMode, toleranceNanoseconds: Int64, lateAfterNanoseconds: Int64, capacity: Int = 256) {
        matchByNearestTime = mode == .freeRunning
        self.toleranceNanoseconds = toleranceNanoseconds
        self.lateAfterNanoseconds = lateAfterNanoseconds
        ringIndex = Array(repeating: 0, count: max(1, capacity))
        ringTime = Array(repeating: 0, count: max(1, capacity))
        missingIndices = []
        missingIndices.reserveCapacity(max(1, capacity))
    }

    /// A trigger edge (or, free-running, an intended exposure time) for loop frame `index`.
    public mutating func trigger(index: Int64, atNanoseconds t: Int64) {
        if count == ringIndex.count { giveUpOldest() }
        let slot = (head + count) % ringIndex.count
        ringIndex[slot] = index
        ringTime[slot] = t
        count += 1
    }

    private mutating func giveUpOldest() {
        if missingIndices.count < missingIndices.capacity { missingIndices.append(ringIndex[head]) }
        missing += 1
        head = (head + 1) % ringIndex.count
        count -= 1
    }

    /// Triggers older than `nanoseconds` with no frame are missing (call as time passes, e.g. with
    /// now − tolerance − timeout).
    public mutating func expire(before nanoseconds: Int64) {
        while count > 0, ringTime[head] + toleranceNanoseconds < nanoseconds { giveUpOldest() }
    }

    /// A delivered frame: matched to a trigger, or extra.
    public mutating func frame(exposureStartNanoseconds start: Int64, receivedNanoseconds received: Int64) -> Outcome {
        var pick = -1
        if matchByNearestTime {
            var best = Int64.max
            for k in 0..<count {
                let slot = (head + k) % ringIndex.count
                let d = abs(start - ringTime[slot])
                if d <= toleranceNanoseconds, d < best { best = d; pick = k }
            }
        } else {
            // Oldest first: triggers whose frame can no longer come (start too far after them) are missing.
            while count > 0, start - ringTime[head] > toleranceNanoseconds { giveUpOldest() }
            if count > 0, start - ringTime[head] >= -toleranceNanoseconds { pick = 0 }
        }
        guard pick >= 0 else { extra += 1; return .extra }
        // Earlier open triggers than the pick are missing (free-running: skipped by the camera).
        for _ in 0..<pick { giveUpOldest() }
        let index = ringIndex[head]
        head = (head + 1) % ringIndex.count
        count -= 1
        matched += 1
        let isLate = received - start > lateAfterNanoseconds
        if isLate { late += 1 }
        return .matched(triggerIndex: index, late: isLate)
    }

    /// Loop frame indices given up as missing since the last call, oldest first.
    public mutating func takeMissing() -> [Int64] {
        let m = missingIndices
        missingIndices.removeAll(keepingCapacity: true)
        return m
    }

    /// Open triggers still waiting for a frame.
    public var pending: Int { count }
}
