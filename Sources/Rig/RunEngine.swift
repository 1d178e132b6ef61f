import Dataset
import Electrochemistry
import Foundation
import Glibc
import Imaging
import Synchronization

/// The devices a run drives: real drivers (RigDrivers) or firmware-sim twins.
public struct RigHardware {
    /// One line for run.json and the summary, e.g. "firmware-sim (virtual clock)".
    public var backend: String
    public var clock: Clock
    public var led: DigitalLine
    public var trigger: DigitalLine
    public var camera: Camera
    public var potentiostat: Potentiostat
    /// The rig configuration as recorded in run.json.
    public var configuration: JSONValue
    /// Warnings found while opening the devices (recorded as events when the run starts).
    public var warnings: [String] = []
    /// Objects the devices need alive for the run (the simulated rig whose chip the lines belong to,
    /// a GPIO chip): the hardware holds them, so swapping one part for a real driver cannot free them.
    public var owners: [AnyObject] = []
    /// Follow mode (docs/follow.md): the instrument's trigger input. Then `potentiostat` is never
    /// commanded (`FollowedInstrument`), and the run records frames and trigger edges only.
    public var follow: FollowHardware?

    public init(backend: String, clock: Clock, led: DigitalLine, trigger: DigitalLine, camera: Camera,
                potentiostat: Potentiostat, configuration: JSONValue, warnings: [String] = []) {
        self.backend = backend
        self.clock = clock
        self.led = led
        self.trigger = trigger
        self.camera = camera
        self.potentiostat = potentiostat
        self.configuration = configuration
        self.warnings = warnings
    }
}

/// Options of a run.
public struct RunOptions {
    public var outputDirectory: String
    /// SCHED_FIFO priority of the exposure thread (real clock only).
    public var realtimePriority: Int32 = 80
    /// Seconds of idle-line loop before the first step (real clock only).
    public var latencySelfTestSeconds: Double = 3
    /// Recorded frames per TIFF chunk.
    public var framesPerChunk: Int = 10
    /// The chunks' compression; nil: the rig file's `[recording] compression` as recorded in the
    /// rig's configuration (`recording_compression`), deflate when it says nothing.
    public var chunkCompression: TIFFStackWriter.Compression?
    /// Camera ROI (default: 256 × 256 centred).
    public var roi: RegionOfInterest?
    /// Software version for run.json.
    public var softwareVersion = "operando 0.2"
    /// Consecutive camera timeouts that end the run as a fault ("the camera stopped").
    public var maxConsecutiveTimeouts = 50
    /// Wall-clock seconds between status messages (virtual clock: run-time seconds × 60).
    public var statusIntervalSeconds = 1.0

    public init(outputDirectory: String) { self.outputDirectory = outputDirectory }
}

/// The live status line's content (and the live view's, which shows the same).
public struct RunStatus: Sendable, Equatable {
    public var runSeconds: Double
    /// 0-based step index (shown 1-based: "step 2 of 4").
    public var step: Int
    public var stepCount: Int
    public var stepText: String
    public var voltageVolts: Double
    public var currentAmps: Double
    public var capacityMilliampHoursPerGram: Double
    public var intensityChange: Double
    public var sdcStd: Double
    public var heterogeneous: Bool
    public var loopP99Microseconds: Double
    public var droppedFrames: Int
    public var missedDeadlines: Int
    public var lockstepViolations: Int
    public var recordedFrames: Int
    public var ledOn: Bool
    /// Fraction of the protocol's planned time done, when every step has a fixed duration bound.
    public var fraction: Double?
    /// Planned total run time, s, when known.
    public var plannedSeconds: Double?

    /// A status; what is not given is not known (NaN, zero counts, LED off).
    public init(runSeconds: Double = 0, step: Int = 0, stepCount: Int = 0, stepText: String = "", voltageVolts: Double = .nan,
                currentAmps: Double = .nan, capacityMilliampHoursPerGram: Double = .nan, intensityChange: Double = .nan,
                sdcStd: Double = .nan, heterogeneous: Bool = false, loopP99Microseconds: Double = .nan, droppedFrames: Int = 0,
                missedDeadlines: Int = 0, lockstepViolations: Int = 0, recordedFrames: Int = 0, ledOn: Bool = false,
                fraction: Double? = nil, plannedSeconds: Double? = nil) {
        self.runSeconds = runSeconds
        self.step = step
        self.stepCount = stepCount
        self.stepText = stepText
        self.voltageVolts = voltageVolts
        self.currentAmps = currentAmps
        self.capacityMilliampHoursPerGram = capacityMilliampHoursPerGram
        self.intensityChange = intensityChange
        self.sdcStd = sdcStd
        self.heterogeneous = heterogeneous
        self.loopP99Microseconds = loopP99Microseconds
        self.droppedFrames = droppedFrames
        self.missedDeadlines = missedDeadlines
        self.lockstepViolations = lockstepViolations
        self.recordedFrames = recordedFrames
        self.ledOn = ledOn
        self.fraction = fraction
        self.plannedSeconds = plannedSeconds
    }
}

/// What a run did.
public struct RunSummary: Sendable {
    public var directory: String
    public var outcome: RunOutcome
    public var endReason: String { outcome.description }
    public var completed: Bool { outcome == .completed }
    public var runSeconds: Double
    public var triggers: Int
    public var cameraFrames: Int
    public var recordedFrames: Int
    public var skippedFrames: Int
    public var droppedFrames: Int
    public var lockstepViolations: Int
    public var selfTestP99Microseconds: Double?
    public var wallSeconds: Double
}

/// Runs a protocol on a rig: sequencer, lockstep exposure loop and binning, publishing everything that
/// happens to subscribers (the recorder and on-line monitor inline; the status line, a live view or a
/// closed-loop controller queued). The supervisor decides when the run must stop and performs the one
/// safe stop on every path. On a virtual clock (firmware-sim) everything runs in one thread, jumping
/// from deadline to deadline; on a real clock the exposure loop runs on its own SCHED_FIFO thread.
public final class RunEngine: @unchecked Sendable {
    public let protocolFile: ProtocolFile
    public let hardware: RigHardware
    public let options: RunOptions
    /// The message bus: add subscribers before `run()`.
    public let bus = RunBus()
    /// A stop asked of this run alone (a live view's "stop safely"), as the signal number it stands for.
    let stopRequest = Atomic<Int32>(0)

    /// Asks the run to stop safely, as SIGINT would, from any thread; the supervisor's safe stop follows.
    public func requestStop(signal: Int32 = SIGINT) { stopRequest.store(signal, ordering: .relaxed) }

    /// The stop signal pending for this run: the process's (SIGINT/SIGTERM) or this engine's own request.
    var pendingStopSignal: Int32 {
        let process = RunInterrupt.received.load(ordering: .relaxed)
        return process != 0 ? process : stopRequest.load(ordering: .relaxed)
    }
    private var extraInline: [RunSubscriber] = []
    private var extraQueued: [(RunSubscriber, Int)] = []

    public init(protocolFile: ProtocolFile, hardware: RigHardware, options: RunOptions) {
        self.protocolFile = protocolFile
        self.hardware = hardware
        self.options = options
    }

    /// Adds a subscriber on its own thread with a bounded mailbox (status line, live view).
    public func subscribe(_ s: RunSubscriber, mailboxCapacity: Int = 4096) { extraQueued.append((s, mailboxCapacity)) }

    /// Adds a subscriber on the engine's thread (it must be quick; a closed-loop controller).
    public func subscribeInline(_ s: RunSubscriber) { extraInline.append(s) }

    /// Runs the protocol to its end (or a trip, fault or signal). Throws only when the run cannot start
    /// (bad settings, a device that refuses its configuration, an output directory in use) — then no
    /// dataset is left behind; a run that starts always ends through the safe stop and says how.
    public func run() throws -> RunSummary {
        let wallStart = Date()
        let img = protocolFile.imaging
        let camera = hardware.camera
        let roi = options.roi ?? RegionOfInterest(x: (camera.sensorWidth - 256) / 2, y: (camera.sensorHeight - 256) / 2,
                                                  width: min(256, camera.sensorWidth), height: min(256, camera.sensorHeight))
        try camera.configure(roi: roi, exposureSeconds: img.exposureMilliseconds * 1e-3)
        let timing = ExposureTiming(periodNanoseconds: Int64((1e9 / img.frameRateHz).rounded()),
                                    ledLeadNanoseconds: Int64((img.ledLeadMilliseconds * 1e6).rounded()),
                                    exposureNanoseconds: Int64((img.exposureMilliseconds * 1e6).rounded()),
                                    ledTailNanoseconds: Int64((img.ledTailMilliseconds * 1e6).rounded()))
        // Follow mode commands nothing electrical: no sequencer (the instrument's software runs the cell).
        let sequencer = hardware.follow == nil ? try Sequencer(protocolFile: protocolFile, potentiostat: hardware.potentiostat) : nil

        // Latency self-test with the lines idle (real clock only).
        var selfTest: (histogram: LatencyHistogram, report: RealtimeReport)? = nil
        if !hardware.clock.isVirtual && options.latencySelfTestSeconds > 0 {
            let probe = try LatencyProbe.measure(timing: timing, seconds: options.latencySelfTestSeconds,
                                                 priority: options.realtimePriority)
            selfTest = (probe.histogram, probe.report)
        }
        // Keep the CPU out of deep idle states for the whole real-clock run, as cyclictest does.
        let dmaLatency = hardware.clock.isVirtual ? nil : CPUDMALatencyGuard()
        defer { withExtendedLifetime(dmaLatency) {} }

        var info = RunInfo(softwareVersion: options.softwareVersion, protocolPath: protocolFile.path, protocolText: protocolFile.text,
                           rig: hardware.configuration, backend: hardware.backend,
                           startTimeUTC: ISO8601DateFormatter().string(from: Date()), pixelSizeMicrometres: camera.pixelSizeMicrometres,
                           roi: (roi.x, roi.y, roi.width, roi.height), binning: img.bin, frameRateHz: img.frameRateHz,
                           exposureMilliseconds: img.exposureMilliseconds, ledLeadMilliseconds: img.ledLeadMilliseconds,
                           ledWavelengthNanometres: 740, blackLevelSubtractedCounts: camera.blackLevelCounts,
                           activeMassMilligrams: protocolFile.cell.activeMassMilligrams,
                           practicalCapacityMilliampHoursPerGram: protocolFile.cell.practicalCapacityMilliampHoursPerGram)
        if let follow = hardware.follow { info.extra["follow"] = follow.runInfo(protocolFile: protocolFile) }
        let compression = options.chunkCompression
            ?? hardware.configuration["recording_compression"]?.string.flatMap(TIFFStackWriter.Compression.init(rawValue:)) ?? .deflate
        let recorder = try Recorder(directory: options.outputDirectory, runInfo: info, framesPerChunk: options.framesPerChunk,
                                    compression: compression)
        let monitor = OnlineMonitor(source: options.outputDirectory)
        bus.subscribeInline(recorder)
        if let follow = hardware.follow {
            bus.subscribeInline(try TriggerRecorder(directory: options.outputDirectory, lineOffset: follow.input.lineOffset))
        }
        bus.subscribeInline(monitor)
        for s in extraInline { bus.subscribeInline(s) }
        for (s, capacity) in extraQueued { bus.subscribeQueued(s, capacity: capacity) }

        // Start far enough ahead for the real-time thread to be created and its memory locked.
        let t0 = hardware.clock.monotonicNanoseconds + (hardware.clock.isVirtual ? 50_000_000 : 300_000_000)
        let run = RunLoop(engine: self, sequencer: sequencer, timing: timing, t0: t0, recorder: recorder, monitor: monitor)
        bus.onFault = { [unowned run] name, error in run.supervisor.fault(device: name, message: "\(error)") }
        bus.onQueuedFault = { [unowned run] name, error in run.supervisor.fault(device: name, message: "\(error)") }
        bus.publish(.started(info, timing))
        run.publish(.runStarted(backend: hardware.backend), at: t0)
        for w in hardware.warnings { run.publish(.warning(w), at: t0) }
        for w in selfTest?.report.warnings ?? [] { run.publish(.warning(w), at: t0) }
        run.selfTest = selfTest
        run.latencyP99 = selfTest?.histogram.percentileMicroseconds(0.99) ?? .nan
        run.execute()
        let outcome = run.supervisor.outcome ?? .completed
        return RunSummary(directory: options.outputDirectory, outcome: outcome, runSeconds: run.endSeconds, triggers: run.triggers,
                          cameraFrames: run.cameraFrames, recordedFrames: recorder.recordedFrames, skippedFrames: run.skipped,
                          droppedFrames: run.dropped, lockstepViolations: run.violations,
                          selfTestP99Microseconds: selfTest?.histogram.percentileMicroseconds(0.99),
                          wallSeconds: Date().timeIntervalSince(wallStart))
    }
}

/// The supervisor: the one owner of the decision to stop. The first reason wins; any part may report
/// (the engine's thread, a queued subscriber's thread), so the state is behind a mutex.
public final class Supervisor: @unchecked Sendable {
    private let state = Mutex<RunState>(.starting)

    /// The reason the run is stopping or stopped (nil while it runs on).
    public var outcome: RunOutcome? {
        state.withLock { s in
            switch s {
            case .stopping(let o), .ended(let o): return o
            default: return nil
            }
        }
    }

    /// The current state.
    public var current: RunState { state.withLock { $0 } }

    /// True once a stop was decided.
    public var mustStop: Bool { outcome != nil }

    func begin() { state.withLock { if $0 == .starting { $0 = .running } } }

    /// Decides the run must stop for `outcome` (ignored when a reason was already decided).
    public func stop(_ outcome: RunOutcome) {
        state.withLock { s in
            switch s {
            case .starting, .running: s = .stopping(outcome)
            default: break
            }
        }
    }

    /// A part failed.
    public func fault(device: String, message: String) { stop(.fault(device: device, message: message)) }

    func finish() { state.withLock { if case .stopping(let o) = $0 { $0 = .ended(o) } } }
}

/// One run's working state: the main loop, binning and the safe stop. Not public: `RunEngine.run()`
/// is the interface.
final class RunLoop {
    unowned let engine: RunEngine
    let supervisor = Supervisor()
    /// nil in follow mode (FollowRun.swift runs the loop then).
    let sequencer: Sequencer?
    let timing: ExposureTiming
    let t0: Int64
    let recorder: Recorder
    let monitor: OnlineMonitor
    var hardware: RigHardware { engine.hardware }
    var bus: RunBus { engine.bus }
    var selfTest: (histogram: LatencyHistogram, report: RealtimeReport)?
    var latencyP99 = Double.nan
    let loop: ExposureLoop
    private var binner: TemporalBinner?
    private var binMeta: [Int: (step: Int, sample: ElectrochemSample, ledFraction: Double)] = [:]
    private(set) var recordedIndex = 0
    /// Follow mode's state (edges seen, the input's reader).
    var followState: FollowState?
    private var lastSample = ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: .nan, currentAmps: .nan)
    var triggers = 0, cameraFrames = 0, skipped = 0, dropped = 0, violations = 0
    private var consecutiveTimeouts = 0
    private var timedOutSeconds = 0.0
    private var terminalLostRecorded = false
    var endSeconds = 0.0

    init(engine: RunEngine, sequencer: Sequencer?, timing: ExposureTiming, t0: Int64, recorder: Recorder, monitor: OnlineMonitor) {
        self.engine = engine
        self.sequencer = sequencer
        self.timing = timing
        self.t0 = t0
        self.recorder = recorder
        self.monitor = monitor
        loop = ExposureLoop(clock: engine.hardware.clock, led: engine.hardware.led, trigger: engine.hardware.trigger, timing: timing,
                            firstTriggerNanoseconds: t0 + timing.ledLeadNanoseconds + 1_000_000)
        binner = try? TemporalBinner(framesPerBin: engine.protocolFile.imaging.bin,
                                     exposureIntervalSeconds: Double(timing.periodNanoseconds) / 1e9,
                                     firstExposureSeconds: Double(loop.firstTriggerNanoseconds - t0) / 1e9)
    }

    func seconds(_ ns: Int64) -> Double { Double(ns - t0) / 1e9 }

    func publish(_ e: RunEvent, at ns: Int64? = nil) {
        bus.publish(.event(e, seconds: seconds(ns ?? hardware.clock.monotonicNanoseconds)))
    }

    /// The main loop, then the safe stop. Never throws: every failure becomes the supervisor's outcome.
    func execute() {
        guard let sequencer else {
            let rtThread = executeFollowing()
            safeStop(rtThread: rtThread)
            return
        }
        let clock = hardware.clock
        let sampleNs = Int64((engine.protocolFile.cell.sampleIntervalSeconds * 1e9).rounded())
        var nextSample = t0
        var nextFrame: Int64 = 0
        var edges: [FrameEdges] = []
        edges.reserveCapacity(4096)
        var rtThread: RealtimeThread? = nil
        let plannedSeconds = sequencer.planned.compactMap { $0.step.durationSeconds }.reduce(0, +)
        let allTimed = sequencer.planned.allSatisfy { $0.step.durationSeconds != nil }
        var lastStatusWall = Date.distantPast
        var lastStatusRun: Int64? = nil
        supervisor.begin()
        do {
            try hardware.camera.start()
            for e in try sequencer.start(atSeconds: 0) { publish(e, at: t0) }
            if !clock.isVirtual { rtThread = try startRealtimeThread() }
            while !supervisor.mustStop {
                if stopRequestedBySignal() { break }
                if clock.isVirtual {
                    // One thread: run whichever deadline comes first.
                    let frameStart = loop.firstTriggerNanoseconds + nextFrame * timing.periodNanoseconds - timing.ledLeadNanoseconds
                    if frameStart < nextSample {
                        loop.currentStep.store(sequencer.index, ordering: .relaxed)
                        let r = loop.fire(frame: nextFrame)
                        nextFrame += 1
                        try handle(r)
                        continue
                    }
                    clock.sleep(untilNanoseconds: nextSample)
                } else {
                    clock.sleep(untilNanoseconds: nextSample)
                    edges.removeAll(keepingCapacity: true)
                    loop.drain(into: &edges)
                    for r in edges { try handle(r) }
                }
                if supervisor.mustStop { break }
                // Electrochemistry sample.
                let s = try hardware.potentiostat.read()
                lastSample = s
                let t = seconds(nextSample)
                // The row carries the capacities up to this sample (cycle and half-cycle ones included).
                bus.publish(.echem(sequencer.record(s, runSeconds: t)))
                for e in try sequencer.onSample(s, runSeconds: t) {
                    publish(e, at: nextSample)
                    if case .limitTripped(let limit, let value) = e { supervisor.stop(.limitTripped(limit: limit, value: value)) }
                }
                loop.currentStep.store(sequencer.index, ordering: .relaxed)
                if sequencer.finished {
                    supervisor.stop(sequencer.endReason == "protocol complete" ? .completed
                                    : .fault(device: hardware.potentiostat.name, message: sequencer.endReason))
                    break
                }
                nextSample += sampleNs
                let due = clock.isVirtual ? lastStatusRun.map { nextSample - $0 >= Int64(engine.options.statusIntervalSeconds * 60e9) } ?? true
                    : Date().timeIntervalSince(lastStatusWall) >= engine.options.statusIntervalSeconds
                if due {
                    lastStatusWall = Date()
                    lastStatusRun = nextSample
                    bus.publish(.status(status(runSeconds: t, planned: allTimed ? plannedSeconds : nil)))
                }
            }
        } catch {
            supervisor.fault(device: device(of: error), message: "\(error)")
        }
        safeStop(rtThread: rtThread)
    }

    /// The exposure loop on its own SCHED_FIFO thread (real clock), its new warnings recorded.
    func startRealtimeThread() throws -> RealtimeThread {
        let loop = self.loop
        let thread = RealtimeThread { loop.runUntilStopped() }
        try thread.start(priority: engine.options.realtimePriority)
        for w in thread.report.warnings where !(selfTest?.report.warnings.contains(w) ?? false) { publish(.warning(w)) }
        return thread
    }

    /// Polled once per loop turn: a stop signal (SIGINT/SIGTERM, or this engine's own request) decides
    /// the stop and returns true; a lost terminal is recorded once and the run goes on.
    func stopRequestedBySignal() -> Bool {
        let signal = engine.pendingStopSignal
        if signal != 0 {
            publish(.interrupted(signal: RunInterrupt.name(of: signal)))
            supervisor.stop(.interrupted(signal: signal))
            return true
        }
        if RunInterrupt.terminalLost && !terminalLostRecorded {
            terminalLostRecorded = true
            publish(.terminalLost(reason: RunInterrupt.hangup.load(ordering: .relaxed)
                ? "SIGHUP: the terminal closed; the run goes on without status output"
                : "stderr is broken (EPIPE): the run goes on without status output"))
        }
        return false
    }

    func device(of error: Error) -> String {
        switch error {
        case is PotentiostatError: return hardware.potentiostat.name
        case is CameraError: return hardware.camera.name
        case is GPIOError: return "gpio"
        case is DatasetError: return "recorder"
        default: return "rig"
        }
    }

    /// The one safe stop, on every path: exposure loop stopped, LED and trigger low, cell at open
    /// circuit, the safe state sampled and recorded, the last frames and timing written, `run_ended`.
    /// Each step is attempted even when an earlier one failed.
    func safeStop(rtThread: RealtimeThread?) {
        let outcome = supervisor.outcome ?? .completed
        let clock = hardware.clock
        loop.stopRequested.store(true, ordering: .relaxed)
        rtThread?.join()
        // Hardware first: nothing below may delay it.
        var ledMessage = "LED and trigger lines low"
        var ledOK = true
        do { try hardware.led.set(false) } catch { ledOK = false; ledMessage = "LED: \(error)" }
        do { try hardware.trigger.set(false) } catch { ledOK = false; ledMessage += "; trigger: \(error)" }
        var outputOK = true
        var outputMessage = "potentiostat at open circuit"
        stopFollowing()
        if sequencer == nil {
            outputMessage = "follow mode: operando drives no output (the instrument's own software runs the cell)"
        } else if let e = sequencer?.safeStop() {
            // One more try: a transient error must not leave the cell under current.
            if let again = sequencer?.safeStop() { outputOK = false; outputMessage = "\(again)" } else { outputMessage += " (second attempt; first: \(e))" }
        }
        // The safe state as measured: a sample at open circuit (current 0), after any trip or fault —
        // read before the output relay opens (an SMU measures nothing with its output off).
        var safeSample: ElectrochemSample? = nil
        var readFailure: String? = nil
        if outputOK, sequencer != nil {
            do { safeSample = try hardware.potentiostat.read() } catch { readFailure = "\(error)" }
        }
        // Output off in the instrument's own safe mode (an SMU's relay open, a MethodSCRIPT script aborted).
        if sequencer != nil {
            do { try hardware.potentiostat.safeOff() } catch {
                if outputOK { outputMessage += "; output relay: \(error)" } else { outputMessage += "; \(error)" }
            }
        }
        // A fault is recorded where the supervisor learnt of it: here, once, whoever reported it.
        if case .fault(let device, let message) = outcome { publish(.fault(device: device, message: message)) }
        if outcome != .completed { publish(.safeStopStarted(reason: outcome.description)) }
        publish(.ledOff(ok: ledOK, message: ledMessage))
        publish(.outputOff(ok: outputOK, message: outputMessage))
        if let s = safeSample, let sequencer {
            bus.publish(.echem(EchemRecord(timeSeconds: seconds(max(s.monotonicNanoseconds, clock.monotonicNanoseconds)),
                                           step: sequencer.index, stepKind: EchemRecord.safeStopKind, voltageVolts: s.voltageVolts,
                                           currentAmps: s.currentAmps, capacityMilliampHoursPerGram: sequencer.capacityMilliampHoursPerGram,
                                           cycle: sequencer.halfCycle.cycle,
                                           chargeCapacityMilliampHoursPerGram: sequencer.halfCycle.chargeMilliampHoursPerGram,
                                           dischargeCapacityMilliampHoursPerGram: sequencer.halfCycle.dischargeMilliampHoursPerGram)))
        } else if let readFailure {
            publish(.warning("could not read the potentiostat after the safe stop: \(readFailure)"))
        }
        if !clock.isVirtual {
            var edges: [FrameEdges] = []
            loop.drain(into: &edges)
            for r in edges { try? handle(r, stopping: true) }
        }
        hardware.camera.stop()
        if var b = binner { for bin in b.finish() { emit(bin) }; binner = b }
        endSeconds = seconds(clock.monotonicNanoseconds)
        bus.publish(.timing(timingReport()))
        publish(.runEnded(reason: outcome.description))
        supervisor.finish()
        bus.publish(.ended(outcome))
        bus.drain()
    }

    /// After a frame's edges: record them, fetch the camera frame, check lockstep, bin.
    func handle(_ r: FrameEdges, stopping: Bool = false) throws {
        func us(_ ns: Int64) -> Double? { ns == FrameEdges.absent ? nil : Double(ns - t0) / 1e3 }
        bus.publish(.edges(EdgeRecord(frame: r.frame, step: Int(r.step), skipped: r.skipped,
                                      intendedLedOnMicroseconds: us(r.intendedLedOn)!, actualLedOnMicroseconds: us(r.actualLedOn),
                                      intendedTriggerMicroseconds: us(r.intendedTrigger)!, actualTriggerMicroseconds: us(r.actualTrigger),
                                      intendedLedOffMicroseconds: us(r.intendedLedOff)!, actualLedOffMicroseconds: us(r.actualLedOff))))
        let bin = Int(r.frame) / engine.protocolFile.imaging.bin
        if binMeta[bin] == nil { binMeta[bin] = (Int(r.step), lastSample, 0) }
        if r.lineFailed {
            // A software-triggered camera's trigger is a camera command: its failure is the camera's.
            if let line = hardware.trigger as? SoftwareTriggerLine, let e = line.lastError { throw e }
            throw GPIOError.io(chip: "rig", line: "led/trigger", reason: "driving the line failed at frame \(r.frame)")
        }
        if r.skipped {
            skipped += 1
            publish(.frameSkipped(frame: r.frame, latenessMicroseconds: Double(r.latenessNanoseconds) / 1e3), at: r.intendedLedOn)
            return
        }
        triggers += 1
        let camera = hardware.camera
        let frame: CameraFrame
        do {
            // On a virtual clock a timeout advances time: wait at most half the gap to the next frame
            // so a missing frame cannot push the timeline into skipped deadlines.
            // A real camera's wait is real time, whatever the rig's clock: give it its own timeout.
            let timeout = hardware.clock.isVirtual && camera.triggerMode != .software
                ? max(1e-4, 0.5 * Double(timing.periodNanoseconds - timing.ledLeadNanoseconds - timing.exposureNanoseconds - timing.ledTailNanoseconds) / 1e9)
                : (stopping ? 0.05 : 1.0)
            frame = try camera.nextFrame(timeoutSeconds: timeout)
        } catch CameraError.timeout(let device, let s) {
            dropped += 1
            consecutiveTimeouts += 1
            timedOutSeconds += s
            publish(.frameDropped(frame: r.frame, reason: "camera \(device): no frame within \(s) s"), at: r.actualTrigger)
            if consecutiveTimeouts >= engine.options.maxConsecutiveTimeouts && !stopping {
                throw CameraError.timeout(device: device, seconds: timedOutSeconds)
            }
            return
        } catch CameraError.frameDropped(let device, let id, let reason) {
            // A bad buffer (missing packets, size mismatch…) is a dropped frame with its reason, not a gap.
            dropped += 1
            publish(.frameDropped(frame: r.frame, reason: "camera \(device): frame \(id.map(String.init) ?? "?") \(reason)"), at: r.actualTrigger)
            return
        }
        for d in camera.takeDroppedFrames() {
            publish(.frameDropped(frame: r.frame, reason: "camera \(camera.name): frame \(d.frameID.map(String.init) ?? "?") \(d.status.rawValue): \(d.reason)"),
                    at: d.noticedNanoseconds)
        }
        consecutiveTimeouts = 0
        timedOutSeconds = 0
        cameraFrames += 1
        // Lockstep: the frame belongs to this trigger and its exposure lay inside the LED window. A real
        // camera's exposure start is its own timestamp mapped onto the rig's clock: allow its jitter.
        let tolerance: Int64 = frame.metadata == nil ? 100_000 : 2_000_000
        if abs(frame.exposureStartNanoseconds - r.actualTrigger) > tolerance {
            violations += 1
            publish(.lockstepViolation(frame: r.frame, problem: "camera frame \(frame.frameID) started at \(frame.exposureStartNanoseconds), trigger at \(r.actualTrigger)"))
        }
        if frame.exposureStartNanoseconds < r.actualLedOn || frame.exposureEndNanoseconds > r.actualLedOff {
            violations += 1
            publish(.lockstepViolation(frame: r.frame, problem: "exposure \(frame.exposureStartNanoseconds)…\(frame.exposureEndNanoseconds) outside LED window \(r.actualLedOn)…\(r.actualLedOff)"))
        }
        let exposure = max(1, frame.exposureEndNanoseconds - frame.exposureStartNanoseconds)
        let overlap = max(0, min(frame.exposureEndNanoseconds, r.actualLedOff) - max(frame.exposureStartNanoseconds, r.actualLedOn))
        binMeta[bin]!.ledFraction += Double(overlap) / Double(exposure)
        let done = binner?.add(RawFrame(width: frame.width, height: frame.height, pixels: frame.pixels), sequenceNumber: Int(r.frame)) ?? []
        for b in done { emit(b) }
    }

    /// Publishes a finished bin as one recorded frame (black level subtracted; NaN when it holds no exposure).
    private func emit(_ bin: TimedFrame) {
        let meta = binMeta.removeValue(forKey: bin.index)
        var pixels = bin.frame
        if bin.exposures > 0 {
            let black = Float(hardware.camera.blackLevelCounts)
            pixels.pixels.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] -= black } }
        }
        let sample = meta?.sample ?? lastSample
        let record = FrameRecord(frame: recordedIndex, chunk: 0, page: 0, startSeconds: bin.startSeconds, endSeconds: bin.endSeconds,
                                 exposures: bin.exposures,
                                 ledOnFraction: bin.exposures > 0 ? (meta?.ledFraction ?? 0) / Double(bin.exposures) : 0,
                                 step: meta?.step ?? sequencer?.index ?? -1,
                                 echemTimeSeconds: sample.voltageVolts.isFinite ? seconds(sample.monotonicNanoseconds) : .nan,
                                 voltageVolts: sample.voltageVolts, currentAmps: sample.currentAmps)
        recordedIndex += 1
        bus.publish(.frame(RecordedFrame(frame: pixels, record: record)))
    }

    private func status(runSeconds t: Double, planned: Double?) -> RunStatus {
        guard let sequencer else { return followStatus(runSeconds: t) }
        return RunStatus(runSeconds: t, step: sequencer.index, stepCount: sequencer.planned.count, stepText: sequencer.current.text,
                  voltageVolts: lastSample.voltageVolts, currentAmps: lastSample.currentAmps,
                  capacityMilliampHoursPerGram: sequencer.capacityMilliampHoursPerGram,
                  intensityChange: monitor.latest?.intensityChange ?? .nan, sdcStd: monitor.latest?.sdcStd ?? .nan,
                  heterogeneous: monitor.latest?.heterogeneous ?? false,
                  loopP99Microseconds: hardware.clock.isVirtual ? .nan : (loop.latency.count > 0 ? loop.latency.percentileMicroseconds(0.99) : latencyP99),
                  droppedFrames: dropped, missedDeadlines: skipped, lockstepViolations: violations,
                  recordedFrames: recordedIndex, ledOn: !supervisor.mustStop,
                  fraction: planned.map { $0 > 0 ? min(1, t / $0) : 1 }, plannedSeconds: planned)
    }

    private func timingReport() -> JSONValue {
        var o: [String: JSONValue] = [
            "clock": .string(hardware.clock.isVirtual ? "virtual (firmware-sim): latencies not measured" : "CLOCK_MONOTONIC"),
            "frame_period_ms": .number(Double(timing.periodNanoseconds) / 1e6),
            "exposure_ms": .number(Double(timing.exposureNanoseconds) / 1e6),
            "led_lead_ms": .number(Double(timing.ledLeadNanoseconds) / 1e6),
            "miss_margin_ms": .number(Double(timing.missMarginNanoseconds) / 1e6),
            "triggers": .number(Double(triggers)), "camera_frames": .number(Double(cameraFrames)),
            "recorded_frames": .number(Double(recordedIndex)),
            "missed_deadlines": .number(Double(skipped)), "dropped_frames": .number(Double(dropped)),
            "lockstep_violations": .number(Double(violations)),
            "edge_ring_overflowed": .bool(loop.overflowed),
            "every_trigger_matched_one_frame": .bool(triggers == cameraFrames + dropped && violations == 0),
            "subscriber_messages_dropped": .object(bus.droppedByQueuedSubscribers.mapValues { .number(Double($0)) }),
        ]
        if !hardware.clock.isVirtual { o["run_loop_latency"] = JSONValue(loop.latency.jsonObject) }
        if let f = followState { o["trigger_input"] = f.timingReport }
        if let selfTest {
            var s = JSONValue(selfTest.histogram.jsonObject).object ?? [:]
            s["seconds"] = .number(engine.options.latencySelfTestSeconds)
            s["sched_fifo"] = .bool(selfTest.report.schedFifo)
            s["priority"] = .number(Double(selfTest.report.priority))
            s["memory_locked"] = .bool(selfTest.report.memoryLocked)
            o["self_test"] = .object(s)
        }
        return .object(o)
    }
}
