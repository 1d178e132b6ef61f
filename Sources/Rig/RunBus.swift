import Dataset
import Foundation
import Imaging

/// A recorded (binned) frame as the run engine publishes it: pixels (black level subtracted, NaN when
/// no exposure arrived) and its index row.
public struct RecordedFrame: Sendable {
    public var frame: BinnedFrame
    /// Its frames.csv row (`chunk` and `page` are assigned by the recorder).
    public var record: FrameRecord
}

/// What the run engine publishes, in the order things happen.
public enum RunMessage: Sendable {
    /// The run began: run.json's content and the exposure timing.
    case started(RunInfo, ExposureTiming)
    /// Something happened at run time `seconds` (step starts and ends, trips, faults…).
    case event(RunEvent, seconds: Double)
    case echem(EchemRecord)
    case edges(EdgeRecord)
    case frame(RecordedFrame)
    case monitor(MonitorRecord)
    /// The status line's content (about once a second of wall time).
    case status(RunStatus)
    /// timing.json's content, once, during the safe stop.
    case timing(JSONValue)
    /// The run is over; the last message.
    case ended(RunOutcome)
}

/// A subscriber of a run's messages: the recorder, the on-line monitor, the status line, a live view,
/// a closed-loop controller. An error it throws is a fault: the supervisor stops the run safely.
public protocol RunSubscriber: AnyObject {
    /// Name for messages (`recorder`, `monitor`, `status line`, `live view`).
    var subscriberName: String { get }
    /// One message. `bus` lets a subscriber publish what it derives (the monitor's samples).
    func receive(_ message: RunMessage, bus: RunBus) throws
}

/// Delivers a run's messages to its subscribers.
///
/// Inline subscribers (recorder, monitor) receive on the engine's thread in order — the recorder must
/// not lose a row — and are kept short. Queued subscribers (status line, live view) each get a bounded
/// mailbox and a thread of their own: a slow one loses the oldest status and frame messages (never
/// events or samples until the mailbox is full), and never slows acquisition. Messages published while
/// a message is being delivered are delivered after it, so subscribers see one order.
public final class RunBus: @unchecked Sendable {
    private var inline: [RunSubscriber] = []
    private var queued: [Mailbox] = []
    private var pending: [RunMessage] = []
    private var delivering = false
    /// Called with (subscriber, error) when an inline subscriber throws; the supervisor's entry.
    var onFault: ((String, Error) -> Void)?

    public init() {}

    /// Adds a subscriber that receives on the engine's thread.
    public func subscribeInline(_ s: RunSubscriber) { inline.append(s) }

    /// Adds a subscriber with its own thread and a mailbox of `capacity` messages.
    public func subscribeQueued(_ s: RunSubscriber, capacity: Int = 4096) {
        let m = Mailbox(subscriber: s, capacity: capacity, bus: self)
        queued.append(m)
        m.start()
    }

    /// Publishes `message` to every subscriber.
    public func publish(_ message: RunMessage) {
        pending.append(message)
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        var k = 0
        while k < pending.count {
            let m = pending[k]
            k += 1
            for s in inline {
                do { try s.receive(m, bus: self) } catch { onFault?(s.subscriberName, error) }
            }
            for q in queued { q.post(m) }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Waits until every queued subscriber has taken its last message (after `.ended`), at most `seconds`.
    public func drain(timeoutSeconds seconds: Double = 5) {
        for q in queued { q.finish(timeoutSeconds: seconds) }
    }

    /// Messages dropped by queued subscribers' mailboxes (for timing.json).
    public var droppedByQueuedSubscribers: [String: Int] {
        var out: [String: Int] = [:]
        for q in queued { out[q.subscriber.subscriberName] = q.dropped }
        return out
    }

    /// Faults reported by queued subscribers (their errors end the run like any other fault).
    func reportQueuedFault(_ name: String, _ error: Error) { onQueuedFault?(name, error) }
    var onQueuedFault: ((String, Error) -> Void)?
}

/// A queued subscriber's bounded mailbox and thread.
final class Mailbox: @unchecked Sendable {
    let subscriber: RunSubscriber
    let capacity: Int
    weak var bus: RunBus?
    private let condition = NSCondition()
    private var messages: [RunMessage] = []
    private var closed = false
    private var done = false
    private(set) var dropped = 0
    private var thread: Thread?

    init(subscriber: RunSubscriber, capacity: Int, bus: RunBus) {
        self.subscriber = subscriber
        self.capacity = max(8, capacity)
        self.bus = bus
    }

    func start() {
        let t = Thread { [self] in self.loop() }
        t.name = "operando \(subscriber.subscriberName)"
        thread = t
        t.start()
    }

    /// Never blocks: when full, the oldest replaceable message (status, frame) goes, else the oldest.
    func post(_ m: RunMessage) {
        condition.lock()
        defer { condition.unlock(); condition.signal() }
        guard !closed else { return }
        if case .ended = m { closed = true }
        // Only the latest status and frame matter to a viewer: replace a waiting one.
        switch m {
        case .status:
            if let i = messages.lastIndex(where: { if case .status = $0 { return true }; return false }) {
                messages.remove(at: i); dropped += 1
            }
        case .frame:
            if let i = messages.lastIndex(where: { if case .frame = $0 { return true }; return false }) {
                messages.remove(at: i); dropped += 1
            }
        default: break
        }
        if messages.count >= capacity {
            messages.removeFirst()
            dropped += 1
        }
        messages.append(m)
    }

    private func loop() {
        while true {
            condition.lock()
            while messages.isEmpty && !closed { condition.wait() }
            if messages.isEmpty && closed { done = true; condition.unlock(); condition.broadcast(); return }
            let batch = messages
            messages.removeAll(keepingCapacity: true)
            condition.unlock()
            for m in batch {
                guard let bus else { continue }
                do { try subscriber.receive(m, bus: bus) } catch { bus.reportQueuedFault(subscriber.subscriberName, error) }
            }
        }
    }

    func finish(timeoutSeconds: Double) {
        condition.lock()
        closed = true
        condition.broadcast()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while !done && condition.wait(until: deadline) {}
        condition.unlock()
    }
}
