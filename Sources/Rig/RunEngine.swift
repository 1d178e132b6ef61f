import Electrochemistry
import Foundation
import Imaging
import Synchronization

/// The devices a run drives: real drivers (RigDrivers) or firmware-sim twins.
public struct RigHardware {
    public var backend: String
    public var clock: Clock
    public var led: DigitalLine
    public var trigger: DigitalLine
    public var camera: Camera
    public var potentiostat: Potentiostat
    /// The rig configuration as recorded in run.json.
    public var configuration: [String: Any]

    public init(backend: String, clock: Clock, led: DigitalLine, trigger: DigitalLine, camera: Camera,
                potentiostat: Potentiostat, configuration: [String: Any]) {
        self.backend = backend
        self.clock = clock
        self.led = led
        self.trigger = trigger
        self.camera = camera
        self.potentiostat = potentiostat
        self.configuration = configuration
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
    /// Camera ROI (default: 256 × 256 centred).
    public var roi: RegionOfInterest?
    /// Software version for run.json.
    public var softwareVersion = "operando 0.1"
    /// Consecutive camera timeouts that end the run as a fault.
    public var maxConsecutiveTimeouts = 50

    public init(outputDirectory: String) { self.outputDirectory = outputDirectory }
}

/// The live status line's content.
public struct RunStatus: Sendable {
    public var runSeconds: Double
    public var step: Int
    public var stepText: String
    public var voltageVolts: Double
    public var currentAmps: Double
    public var capacityMilliampHoursPerGram: Double
    public var intensityChange: Double
    public var sdcStd: Double
    public var loopP99Microseconds: Double
    public var droppedFrames: Int
    public var recordedFrames: Int
    /// Fraction of the protocol's planned time done, when known.
    public var fraction: Double?
}

/// What a run did.
public struct RunSummary: Sendable {
    public var directory: String
    public var endReason: String
    public var completed: Bool
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

/// Runs a protocol on a rig: sequencer, lockstep exposure loop, binning, recorder and on-line monitor.
/// On a virtual clock (firmware-sim) everything runs in one thread, jumping from deadline to deadline;
/// on a real clock the exposure loop runs on its own SCHED_FIFO thread.
public final class RunEngine {
    public let protocolFile: ProtocolFile
    public let hardware: RigHardware
    public let options: RunOptions
    public var onStatus: ((RunStatus) -> Void)?
    public var onNote: ((String) -> Void)?

    public init(protocolFile: ProtocolFile, hardware: RigHardware, options: RunOptions) {
        self.protocolFile = protocolFile
        self.hardware = hardware
        self.options = options
    }

    // Run state
    private var recorder: Recorder!
    private var sequencer: Sequencer!
    private var monitor: ParticleMonitor?
    private var monitorFailed = false
    private var t0: Int64 = 0
    private var binSum: [Float] = []
    private var binCount = 0
    private var binSlot = -1
    private var binStart = 0.0
    private var binEnd = 0.0
    private var binLedFraction = 0.0
    private var binStep = 0
    private var binSample = ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: .nan, currentAmps: .nan)
    private var recordedIndex = 0
    private var triggers = 0, cameraFrames = 0, skipped = 0, dropped = 0, violations = 0
    private var consecutiveTimeouts = 0
    private var timedOutSeconds = 0.0     // camera wait summed over the current run of timeouts
    private var lastSample = ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: .nan, currentAmps: .nan)
    private var lastMetrics: (Double, Double) = (.nan, .nan)
    /// SDC standard deviations of the first recorded frames: the noise floor the heterogeneity flag
    /// compares against (a front inside the particle raises the SDC spread well above it).
    private var sdcBaseline: [Double] = []
    private var width = 256, height = 256
    private var latencyP99: Double = .nan

    private func seconds(_ ns: Int64) -> Double { Double(ns - t0) / 1e9 }

    private func event(_ e: RunEvent, at ns: Int64? = nil) {
        var f = e.fields
        f["time_s"] = seconds(ns ?? hardware.clock.monotonicNanoseconds)
        recorder.recordEvent(f)
        if case .warning(let w) = e { onNote?("warning: \(w)") }
        if case .fault(let d, let m) = e { onNote?("fault: \(d): \(m)") }
        if case .limitTripped(let l, let v) = e { onNote?("limit tripped: \(l) at \(v)") }
    }

    /// Runs the protocol to its end (or a trip, fault or signal). Throws only when the run cannot start;
    /// a run that starts always closes its dataset consistently and reports how it ended.
    public func run() throws -> RunSummary {
        let wallStart = Date()
        let img = protocolFile.imaging
        let camera = hardware.camera
        let roi = options.roi ?? RegionOfInterest(x: (camera.sensorWidth - 256) / 2, y: (camera.sensorHeight - 256) / 2,
                                                  width: min(256, camera.sensorWidth), height: min(256, camera.sensorHeight))
        width = roi.width
        height = roi.height
        try camera.configure(roi: roi, exposureSeconds: img.exposureMilliseconds * 1e-3)
        let timing = ExposureTiming(periodNanoseconds: Int64((1e9 / img.frameRateHz).rounded()),
                                    ledLeadNanoseconds: Int64((img.ledLeadMilliseconds * 1e6).rounded()),
                                    exposureNanoseconds: Int64((img.exposureMilliseconds * 1e6).rounded()),
                                    ledTailNanoseconds: Int64((img.ledTailMilliseconds * 1e6).rounded()))
        sequencer = try Sequencer(protocolFile: protocolFile, potentiostat: hardware.potentiostat)

        // Latency self-test with the lines idle (real clock only).
        var selfTest: LatencyHistogram? = nil
        var selfTestReport: RealtimeReport? = nil
        if !hardware.clock.isVirtual && options.latencySelfTestSeconds > 0 {
            let probe = try LatencyProbe.measure(timing: timing, seconds: options.latencySelfTestSeconds,
                                                 priority: options.realtimePriority)
            selfTest = probe.histogram
            selfTestReport = probe.report
            latencyP99 = probe.histogram.percentileMicroseconds(0.99)
        }
        // Keep the CPU out of deep idle states for the whole real-clock run, as cyclictest does.
        let dmaLatency = hardware.clock.isVirtual ? nil : CPUDMALatencyGuard()
        defer { withExtendedLifetime(dmaLatency) {} }

        let runInfo: [String: Any] = [
            "software_version": options.softwareVersion,
            "protocol_path": protocolFile.path,
            "protocol_text": protocolFile.text,
            "rig": hardware.configuration,
            "backend": hardware.backend,
            "start_time_utc": ISO8601DateFormatter().string(from: Date()),
            "pixel_size_um": camera.pixelSizeMicrometres,
            "roi": ["x": roi.x, "y": roi.y, "width": roi.width, "height": roi.height],
            "binning": img.bin,
            "frame_rate_Hz": img.frameRateHz,
            "exposure_ms": img.exposureMilliseconds,
            "led_lead_ms": img.ledLeadMilliseconds,
            "led_wavelength_nm": 740,
            "black_level_subtracted_counts": camera.blackLevelCounts,
            "active_mass_mg": protocolFile.cell.activeMassMilligrams ?? NSNull(),
            "practical_capacity_mAh_per_g": protocolFile.cell.practicalCapacityMilliampHoursPerGram,
        ]
        recorder = try Recorder(directory: options.outputDirectory, runInfo: runInfo,
                                pixelSizeMicrometres: camera.pixelSizeMicrometres,
                                frameIntervalSeconds: Double(img.bin) / img.frameRateHz, framesPerChunk: options.framesPerChunk)
        // Start far enough ahead for the real-time thread to be created and its memory locked.
        t0 = hardware.clock.monotonicNanoseconds + (hardware.clock.isVirtual ? 50_000_000 : 300_000_000)
        event(.runStarted(backend: hardware.backend), at: t0)
        for w in selfTestReport?.warnings ?? [] { event(.warning(w), at: t0) }

        var endReason = "protocol complete"
        var completed = true
        let loop = ExposureLoop(clock: hardware.clock, led: hardware.led, trigger: hardware.trigger, timing: timing,
                                firstTriggerNanoseconds: t0 + timing.ledLeadNanoseconds + 1_000_000)
        let sampleNs = Int64((protocolFile.cell.sampleIntervalSeconds * 1e9).rounded())
        var nextSample = t0
        var nextFrame: Int64 = 0
        var edges: [FrameEdges] = []
        edges.reserveCapacity(4096)
        var rtThread: RealtimeThread? = nil
        let plannedSeconds = sequencer.planned.compactMap { $0.step.durationSeconds }.reduce(0, +)
        var lastStatus: Int64? = nil

        do {
            try camera.start()
            for e in try sequencer.start(atSeconds: 0) { event(e, at: t0) }
            if !hardware.clock.isVirtual {
                let thread = RealtimeThread { loop.runUntilStopped() }
                try thread.start(priority: options.realtimePriority)
                for w in thread.report.warnings where !(selfTestReport?.warnings.contains(w) ?? false) { event(.warning(w)) }
                rtThread = thread
            }
            mainLoop: while true {
                if RunInterrupt.received.load(ordering: .relaxed) != 0 {
                    event(.interrupted(signal: RunInterrupt.signalName))
                    endReason = "interrupted by \(RunInterrupt.signalName)"
                    completed = false
                    break
                }
                if hardware.clock.isVirtual {
                    // One thread: run whichever deadline comes first.
                    let frameStart = loop.firstTriggerNanoseconds + nextFrame * timing.periodNanoseconds - timing.ledLeadNanoseconds
                    if frameStart < nextSample {
                        loop.currentStep.store(sequencer.index, ordering: .relaxed)
                        let r = loop.fire(frame: nextFrame)
                        nextFrame += 1
                        try handleEdges(r, camera: camera, timing: timing)
                        if r.lineFailed { throw RigError.aborted("driving the LED/trigger line failed") }
                        if consecutiveTimeouts >= options.maxConsecutiveTimeouts {
                            throw CameraError.timeout(device: camera.name, seconds: timedOutSeconds)
                        }
                        continue
                    }
                    hardware.clock.sleep(untilNanoseconds: nextSample)
                } else {
                    hardware.clock.sleep(untilNanoseconds: nextSample)
                    edges.removeAll(keepingCapacity: true)
                    loop.drain(into: &edges)
                    for r in edges {
                        try handleEdges(r, camera: camera, timing: timing)
                        if r.lineFailed { throw RigError.aborted("driving the LED/trigger line failed") }
                    }
                    if consecutiveTimeouts >= options.maxConsecutiveTimeouts {
                        throw CameraError.timeout(device: camera.name, seconds: timedOutSeconds)
                    }
                }
                // Electrochemistry sample.
                let s = try hardware.potentiostat.read()
                lastSample = s
                let t = seconds(nextSample)
                let stepBefore = sequencer.index
                let kind = sequencer.current.kind.name
                recorder.recordEchem(timeSeconds: t, step: stepBefore, kind: kind, voltageVolts: s.voltageVolts,
                                     currentAmps: s.currentAmps, capacityMilliampHoursPerGram: sequencer.capacityMilliampHoursPerGram)
                for e in try sequencer.onSample(s, runSeconds: t) { event(e, at: nextSample) }
                loop.currentStep.store(sequencer.index, ordering: .relaxed)
                if sequencer.finished {
                    endReason = sequencer.endReason
                    completed = endReason == "protocol complete"
                    break mainLoop
                }
                nextSample += sampleNs
                if let onStatus, lastStatus.map({ nextSample - $0 >= (hardware.clock.isVirtual ? 60_000_000_000 : 1_000_000_000) }) ?? true {
                    lastStatus = nextSample
                    onStatus(status(runSeconds: t, fraction: plannedSeconds > 0 ? t / plannedSeconds : nil))
                }
            }
        } catch {
            completed = false
            let device: String
            switch error {
            case is PotentiostatError: device = hardware.potentiostat.name
            case is CameraError: device = camera.name
            case is GPIOError: device = "gpio"
            default: device = "rig"
            }
            event(.fault(device: device, message: "\(error)"))
            endReason = "fault: \(error)"
        }
        // Safe state on every path: LED off, cell at open circuit, dataset consistent.
        loop.stopRequested.store(true, ordering: .relaxed)
        rtThread?.join()
        try? hardware.led.set(false)
        try? hardware.trigger.set(false)
        if let e = sequencer.safeStop() { event(e) }
        if !hardware.clock.isVirtual {
            edges.removeAll()
            loop.drain(into: &edges)
            for r in edges { try? handleEdges(r, camera: camera, timing: timing) }
        }
        camera.stop()
        flushBin()
        let runSeconds = seconds(hardware.clock.monotonicNanoseconds)
        event(.runEnded(reason: endReason))
        var timingObject: [String: Any] = [
            "clock": hardware.clock.isVirtual ? "virtual (firmware-sim): latencies not measured" : "CLOCK_MONOTONIC",
            "frame_period_ms": Double(timing.periodNanoseconds) / 1e6,
            "exposure_ms": Double(timing.exposureNanoseconds) / 1e6,
            "led_lead_ms": Double(timing.ledLeadNanoseconds) / 1e6,
            "miss_margin_ms": Double(timing.missMarginNanoseconds) / 1e6,
            "triggers": triggers, "camera_frames": cameraFrames, "recorded_frames": recordedIndex,
            "missed_deadlines": skipped, "dropped_frames": dropped, "lockstep_violations": violations,
            "edge_ring_overflowed": loop.overflowed,
            "every_trigger_matched_one_frame": triggers == cameraFrames + dropped && violations == 0,
        ]
        if !hardware.clock.isVirtual { timingObject["run_loop_latency"] = loop.latency.jsonObject }
        if let selfTest {
            timingObject["self_test"] = selfTest.jsonObject.merging([
                "seconds": options.latencySelfTestSeconds, "sched_fifo": selfTestReport?.schedFifo ?? false,
                "priority": Int(selfTestReport?.priority ?? 0), "memory_locked": selfTestReport?.memoryLocked ?? false,
            ]) { a, _ in a }
        }
        try recorder.writeTiming(timingObject)
        try recorder.close()
        return RunSummary(directory: options.outputDirectory, endReason: endReason, completed: completed,
                          runSeconds: runSeconds, triggers: triggers, cameraFrames: cameraFrames,
                          recordedFrames: recorder.recordedFrames, skippedFrames: skipped, droppedFrames: dropped,
                          lockstepViolations: violations, selfTestP99Microseconds: selfTest?.percentileMicroseconds(0.99),
                          wallSeconds: Date().timeIntervalSince(wallStart))
    }

    private func status(runSeconds t: Double, fraction: Double?) -> RunStatus {
        RunStatus(runSeconds: t, step: sequencer.index, stepText: sequencer.current.text, voltageVolts: lastSample.voltageVolts,
                  currentAmps: lastSample.currentAmps, capacityMilliampHoursPerGram: sequencer.capacityMilliampHoursPerGram,
                  intensityChange: lastMetrics.0, sdcStd: lastMetrics.1, loopP99Microseconds: latencyP99,
                  droppedFrames: dropped + skipped, recordedFrames: recordedIndex, fraction: fraction)
    }

    /// After a frame's edges: fetch its camera frame, check lockstep, bin.
    private func handleEdges(_ r: FrameEdges, camera: Camera, timing: ExposureTiming) throws {
        func us(_ ns: Int64) -> String { r.skipped && ns == 0 ? "" : String(format: "%.3f", Double(ns - t0) / 1e3) }
        recorder.recordEdges("\(r.frame),\(r.step),\(r.skipped ? 1 : 0),\(us(r.intendedLedOn)),\(us(r.actualLedOn)),\(us(r.intendedTrigger)),\(us(r.actualTrigger)),\(us(r.intendedLedOff)),\(us(r.actualLedOff))")
        let slot = Int(r.frame) / protocolFile.imaging.bin
        if slot != binSlot {
            flushBin()
            binSlot = slot
            binStart = seconds(r.intendedTrigger)
            binStep = Int(r.step)
            binSample = lastSample
            binLedFraction = 0
        }
        binEnd = seconds(r.intendedTrigger + timing.exposureNanoseconds)
        if r.skipped {
            skipped += 1
            event(.frameSkipped(frame: r.frame, latenessMicroseconds: Double(r.latenessNanoseconds) / 1e3), at: r.intendedLedOn)
            return
        }
        triggers += 1
        let frame: CameraFrame
        do {
            // On a virtual clock a timeout advances time: wait at most half the gap to the next frame
            // so a missing frame cannot push the timeline into skipped deadlines.
            let timeout = hardware.clock.isVirtual
                ? max(1e-4, 0.5 * Double(timing.periodNanoseconds - timing.ledLeadNanoseconds - timing.exposureNanoseconds - timing.ledTailNanoseconds) / 1e9)
                : 0.5
            frame = try camera.nextFrame(timeoutSeconds: timeout)
        } catch CameraError.timeout(let device, let s) {
            dropped += 1
            consecutiveTimeouts += 1
            timedOutSeconds += s
            event(.frameDropped(frame: r.frame, reason: "camera \(device): no frame within \(s) s"), at: r.actualTrigger)
            return
        }
        consecutiveTimeouts = 0
        timedOutSeconds = 0
        cameraFrames += 1
        // Lockstep: the frame belongs to this trigger and its exposure lay inside the LED window.
        if abs(frame.exposureStartNanoseconds - r.actualTrigger) > 100_000 {
            violations += 1
            event(.lockstepViolation(frame: r.frame, problem: "camera frame \(frame.frameID) started at \(frame.exposureStartNanoseconds), trigger at \(r.actualTrigger)"))
        }
        if frame.exposureStartNanoseconds < r.actualLedOn || frame.exposureEndNanoseconds > r.actualLedOff {
            violations += 1
            event(.lockstepViolation(frame: r.frame, problem: "exposure \(frame.exposureStartNanoseconds)…\(frame.exposureEndNanoseconds) outside LED window \(r.actualLedOn)…\(r.actualLedOff)"))
        }
        let exposure = max(1, frame.exposureEndNanoseconds - frame.exposureStartNanoseconds)
        let overlap = max(0, min(frame.exposureEndNanoseconds, r.actualLedOff) - max(frame.exposureStartNanoseconds, r.actualLedOn))
        binLedFraction += Double(overlap) / Double(exposure)
        if binSum.count != frame.pixels.count { binSum = [Float](repeating: 0, count: frame.pixels.count) ; binCount = 0 }
        binSum.withUnsafeMutableBufferPointer { sum in
            frame.pixels.withUnsafeBufferPointer { px in
                for i in 0..<px.count { sum[i] += Float(px[i]) }
            }
        }
        binCount += 1
        width = frame.width
        height = frame.height
    }

    /// Writes the bin in progress as one recorded frame (NaN when it holds no exposure).
    private func flushBin() {
        guard binSlot >= 0 else { return }
        let n = binCount
        var pixels = [Float](repeating: .nan, count: width * height)
        if n > 0, binSum.count == pixels.count {
            let inv = 1 / Float(n)
            let black = Float(hardware.camera.blackLevelCounts)
            for i in 0..<pixels.count { pixels[i] = binSum[i] * inv - black }
        }
        let timed = TimedFrame(index: recordedIndex, startSeconds: binStart, endSeconds: binEnd, exposures: n,
                               frame: BinnedFrame(width: width, height: height, pixels: pixels))
        do {
            try recorder.recordFrame(timed, step: binStep, ledOnFraction: n > 0 ? binLedFraction / Double(n) : 0,
                                     echemTimeSeconds: binSample.voltageVolts.isFinite ? seconds(binSample.monotonicNanoseconds) : .nan,
                                     voltageVolts: binSample.voltageVolts, currentAmps: binSample.currentAmps)
        } catch {
            event(.fault(device: "recorder", message: "\(error)"))
        }
        // On-line monitor.
        if monitor == nil && !monitorFailed && n > 0 {
            do {
                monitor = try ParticleMonitor(reference: timed.frame, source: options.outputDirectory)
            } catch {
                monitorFailed = true
                event(.monitorUnavailable("\(error)"))
            }
        }
        if var m = monitor {
            let metrics = m.process(timed.frame, exposures: n)
            monitor = m
            let sdc = metrics.sdcStandardDeviation
            if sdc.isFinite && sdcBaseline.count < 10 { sdcBaseline.append(sdc) }
            let floor = sdcBaseline.count >= 5 ? sdcBaseline.sorted()[sdcBaseline.count / 2] : .infinity
            recorder.recordMonitor(frame: recordedIndex, timeSeconds: timed.timeSeconds, intensityChange: metrics.intensityChange,
                                   sdcStd: sdc, driftX: metrics.driftXPixels, driftY: metrics.driftYPixels,
                                   heterogeneous: sdc.isFinite && sdc > 2 * floor)
            lastMetrics = (metrics.intensityChange, metrics.sdcStandardDeviation)
        }
        recordedIndex += 1
        for i in 0..<binSum.count { binSum[i] = 0 }
        binCount = 0
        binSlot = -1
    }
}
