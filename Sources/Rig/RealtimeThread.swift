import Glibc

/// How a real-time thread actually ran (the OS may refuse SCHED_FIFO or memory locking).
public struct RealtimeReport: Sendable, Equatable {
    public var schedFifo: Bool
    public var priority: Int32
    public var memoryLocked: Bool
    /// Warnings to show the user (with what to change on the board).
    public var warnings: [String]
}

/// A pthread with SCHED_FIFO at `priority` (falling back to normal scheduling with a warning), after
/// `mlockall(MCL_CURRENT | MCL_FUTURE)` so page faults cannot stall the loop.
/// The body is a plain function with an `Unmanaged` context: a closure at top level of main.swift
/// would be main-actor isolated in Swift 6 and crash on the new thread.
public final class RealtimeThread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    private var thread = pthread_t()
    public private(set) var report = RealtimeReport(schedFifo: false, priority: 0, memoryLocked: false, warnings: [])

    public init(body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    /// Locks memory and starts the thread.
    public func start(priority: Int32) throws {
        var warnings: [String] = []
        let locked = mlockall(Int32(MCL_CURRENT) | Int32(MCL_FUTURE)) == 0
        if !locked {
            warnings.append("mlockall failed (\(String(cString: strerror(errno)))): memory not locked; on the board give the service LimitMEMLOCK=infinity or CAP_IPC_LOCK")
        }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        // A small stack: with MCL_FUTURE every page of it is faulted in at creation.
        pthread_attr_setstacksize(&attr, 512 * 1024)
        var fifo = false
        if priority > 0 {
            pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
            pthread_attr_setschedpolicy(&attr, SCHED_FIFO)
            var param = sched_param(sched_priority: priority)
            pthread_attr_setschedparam(&attr, &param)
            fifo = true
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        var rc = pthread_create(&thread, &attr, realtimeThreadEntry, context)
        if rc != 0 && fifo {
            warnings.append("SCHED_FIFO priority \(priority) refused (\(String(cString: strerror(rc)))): running at normal priority; on the board give the service LimitRTPRIO or CAP_SYS_NICE")
            fifo = false
            var plain = pthread_attr_t()
            pthread_attr_init(&plain)
            rc = pthread_create(&thread, &plain, realtimeThreadEntry, context)
            pthread_attr_destroy(&plain)
        }
        guard rc == 0 else {
            Unmanaged<RealtimeThread>.fromOpaque(context).release()
            throw RigError.realtime("cannot start the exposure thread: \(String(cString: strerror(rc)))")
        }
        report = RealtimeReport(schedFifo: fifo, priority: fifo ? priority : 0, memoryLocked: locked, warnings: warnings)
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(thread, nil)
    }

    fileprivate func run() { body() }
}

private func realtimeThreadEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let thread = Unmanaged<RealtimeThread>.fromOpaque(context!).takeRetainedValue()
    thread.run()
    return nil
}
